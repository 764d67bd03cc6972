/**
 * Serving on the sockets start_server passed down. Every Node server that speaks TCP or a
 * unix socket is a `net.Server` (`http`, `https`, `http2`, `tls` included) and can listen
 * on an inherited fd. Doing so calls listen(2) again, which resets the backlog to Node's
 * default (511) unless one is given: these helpers pass start_server's.
 */
import * as fs from "node:fs"
import type * as net from "node:net"
import { udpSockets } from "./internal/datagram.js"
import { fromEnv, type ServerPort } from "./ServerPorts.js"

export interface ListenOptions {
  /** listen(2) backlog. Default: start_server's (STARTER_BACKLOG, else the kernel's SOMAXCONN). */
  readonly backlog?: number
  /** Where SERVER_STARTER_PORT is read from (default: `process.env`). */
  readonly env?: NodeJS.ProcessEnv
}

/** The socket asked for is not among the ones start_server passed. */
export class NoSuchServerPort extends Error {
  override readonly name = "NoSuchServerPort"
}

/** The TCP and unix sockets start_server passed, in its order (UDP ones are for `dgram`). */
export const streamPorts = (env: NodeJS.ProcessEnv = process.env): ReadonlyArray<ServerPort> => {
  const ports = fromEnv(env)
  const udp = udpSockets(ports.map(({ fd }) => fd))
  return ports.filter(({ fd }) => !udp.has(fd))
}

/** start_server's backlog: the one it announces, else the kernel's SOMAXCONN (its default). */
export const defaultBacklog = (env: NodeJS.ProcessEnv = process.env): number => {
  const announced = Number(env.STARTER_BACKLOG)
  if (Number.isInteger(announced) && announced > 0) return announced
  try {
    const somaxconn = Number(fs.readFileSync("/proc/sys/net/core/somaxconn", "utf8").trim())
    if (somaxconn > 0) return somaxconn
  } catch {
    // not Linux: Node's own default
  }
  return 511
}

const keys = (ports: ReadonlyArray<ServerPort>) => ports.map(({ key }) => key).join(", ")

/**
 * The inherited TCP or unix socket `key`, or the only one there is. `several` says what to
 * do when there are more and no key names one.
 */
export const streamPort = (
  key: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  several = "name one, or use listenAll"
): ServerPort => {
  const ports = streamPorts(env)
  if (key !== undefined) {
    const port = ports.find((p) => p.key === key)
    if (port === undefined)
      throw new NoSuchServerPort(`no socket ${key} in SERVER_STARTER_PORT (it has: ${keys(ports)})`)
    return port
  }
  const [only, ...others] = ports
  if (only === undefined) throw new NoSuchServerPort("start_server passed no TCP or unix socket")
  if (others.length > 0) {
    throw new NoSuchServerPort(`start_server passed ${ports.length} sockets (${keys(ports)}): ${several}`)
  }
  return only
}

const listenOn = (server: net.Server, port: ServerPort, backlog: number): Promise<ServerPort> =>
  new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    server.once("error", onError)
    // With `{ fd }` Node ignores an options.backlog: it takes the backlog only as an argument.
    server.listen({ fd: port.fd }, backlog, () => {
      server.off("error", onError)
      resolve(port)
    })
  })

/**
 * Listens on the inherited socket `key` (a SERVER_STARTER_PORT key such as `127.0.0.1:8080`
 * or `/tmp/app.sock`), or on the only one there is. Answers the socket once listening.
 */
export const listen = (server: net.Server, key?: string, options: ListenOptions = {}): Promise<ServerPort> => {
  const env = options.env ?? process.env
  return listenOn(server, streamPort(key, env), options.backlog ?? defaultBacklog(env))
}

/** Listens on every inherited TCP and unix socket, with one server each from `makeServer`. */
export const listenAll = async <S extends net.Server>(
  makeServer: (port: ServerPort) => S,
  options: ListenOptions = {}
): Promise<ReadonlyArray<S>> => {
  const env = options.env ?? process.env
  const backlog = options.backlog ?? defaultBacklog(env)
  return Promise.all(
    streamPorts(env).map(async (port) => {
      const server = makeServer(port)
      await listenOn(server, port, backlog)
      return server
    })
  )
}
