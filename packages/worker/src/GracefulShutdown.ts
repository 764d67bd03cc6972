/**
 * Leaving without losing a request. When start_server retires a generation it signals the
 * old workers; a worker must then stop accepting (the new generation accepts from the same
 * socket), finish what it has, and exit.
 *
 * Node's `http.Server#close()` is not enough: since Node 19 it also closes the connections
 * it deems idle, and on Node 26 that was measured to include one accepted a moment ago whose
 * request is still on its way: the client sees a reset. Here, instead:
 *
 * - the server stops accepting (`net.Server#close`, without the idle-connection sweep);
 * - requests in flight complete, and every response from now on says `Connection: close`;
 * - a connection with no request in flight is closed once it has been idle for `idleTimeout`
 *   (default 1 s), so a request already on its way is still answered;
 * - HTTP/2 sessions get a GOAWAY (`session.close()`), their streams complete;
 * - whatever is still open after `timeout` (default 30 s) is destroyed.
 */
import * as http from "node:http"
import type * as http2 from "node:http2"
import * as https from "node:https"
import * as net from "node:net"
import * as tls from "node:tls"
import { onSupervisorExit } from "./Lifeline.js"

export interface DrainOptions {
  /** Milliseconds: connections still open this long after the drain began are destroyed (default 30 000). */
  readonly timeout?: number
  /** Milliseconds: a connection with no request in flight is closed once idle this long (default 1000). */
  readonly idleTimeout?: number
}

/** A server whose connections are followed from now on, so that it can be drained. */
export interface Drainable {
  /** Stops accepting and resolves once every connection is gone. */
  readonly drain: (options?: DrainOptions) => Promise<void>
}

interface HttpConnection {
  readonly socket: net.Socket
  /** Responses not finished yet. */
  readonly responses: Set<http.ServerResponse>
  lastActive: number
  idleTimer: NodeJS.Timeout | undefined
}

const isHttp1 = (server: net.Server): boolean => server instanceof http.Server || server instanceof https.Server

/** Follows `server`'s connections; call it before the server accepts any. */
export const track = (server: net.Server): Drainable => {
  const sockets = new Set<net.Socket>()
  const http1 = new Map<net.Socket, HttpConnection>()
  const sessions = new Set<http2.Http2Session>()
  let draining: Required<DrainOptions> | undefined

  /** While draining, ends a connection with nothing in flight once it has been idle long enough. */
  const closeWhenIdle = (connection: HttpConnection) => {
    if (draining === undefined || connection.responses.size > 0 || connection.idleTimer !== undefined) return
    const wait = Math.max(0, connection.lastActive + draining.idleTimeout - Date.now())
    connection.idleTimer = setTimeout(() => connection.socket.end(), wait)
  }

  const connectionOf = (socket: net.Socket): HttpConnection => {
    let connection = http1.get(socket)
    if (connection === undefined) {
      connection = { socket, responses: new Set(), lastActive: Date.now(), idleTimer: undefined }
      http1.set(socket, connection)
      socket.once("close", () => {
        clearTimeout(http1.get(socket)?.idleTimer)
        http1.delete(socket)
      })
    }
    return connection
  }

  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
  })
  if (isHttp1(server)) {
    // For TLS, requests arrive on the TLS socket, not on the TCP one 'connection' gives.
    const event = server instanceof tls.Server ? "secureConnection" : "connection"
    server.on(event, (socket: net.Socket) => {
      const connection = connectionOf(socket)
      closeWhenIdle(connection)
    })
    // First in line, so that the app's handler writes its headers after this has run.
    server.prependListener("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
      const connection = connectionOf(request.socket)
      clearTimeout(connection.idleTimer)
      connection.idleTimer = undefined
      connection.responses.add(response)
      if (draining !== undefined) response.shouldKeepAlive = false
      const done = () => {
        if (!connection.responses.delete(response)) return
        connection.lastActive = Date.now()
        // A response that promised keep-alive (its headers went out before the drain began):
        // its client may send the next request at once, and gets `Connection: close` for it.
        closeWhenIdle(connection)
      }
      response.once("finish", done)
      response.once("close", done)
    })
  }
  server.on("session", (session: http2.Http2Session) => {
    sessions.add(session)
    session.once("close", () => sessions.delete(session))
    if (draining !== undefined) session.close()
  })

  const drain = (options: DrainOptions = {}): Promise<void> =>
    new Promise((resolve) => {
      draining = { timeout: options.timeout ?? 30_000, idleTimeout: options.idleTimeout ?? 1000 }
      const deadline = setTimeout(() => {
        for (const session of sessions) session.destroy()
        for (const socket of sockets) socket.destroy()
      }, draining.timeout)
      // net.Server#close: stop accepting; the callback runs once the last connection is gone.
      net.Server.prototype.close.call(server, () => {
        clearTimeout(deadline)
        resolve()
      })
      for (const connection of http1.values()) {
        for (const response of connection.responses) if (!response.headersSent) response.shouldKeepAlive = false
        closeWhenIdle(connection)
      }
      for (const session of sessions) session.close()
    })

  return { drain }
}

export interface GracefulShutdownOptions extends DrainOptions {
  /** The signal (or signals) that start the shutdown, default SIGTERM: start_server's `--signal-on-hup`. */
  readonly signal?: NodeJS.Signals | ReadonlyArray<NodeJS.Signals>
  /** Shut down too when start_server itself is gone (its lifeline closed). Default true. */
  readonly whenSupervisorExits?: boolean
  /**
   * Awaited once every server has drained, before the exit: closes what the requests used
   * (a database pool, Fastify's `app.close()` and with it its `onClose` hooks).
   */
  readonly onDrained?: () => void | Promise<void>
  /**
   * `process.exit(0)` once drained and `onDrained` has run (default; exit status 1, the error
   * on stderr, if it failed). With false, only the promise settles.
   */
  readonly exit?: boolean
}

export interface GracefulShutdown {
  /** Starts the shutdown now (once); resolves when every server is drained and `onDrained` has run. */
  readonly shutdown: () => Promise<void>
  /**
   * Drains `server` too, one created after this call (before it accepts). Added once the
   * shutdown has begun, it is drained at once, and the exit does not wait for it.
   */
  readonly add: (server: net.Server) => void
}

/**
 * Drains `servers` when the process receives one of `signals` (or the supervisor dies),
 * runs `onDrained`, then exits. Call it right after creating the servers, before they accept.
 */
export const gracefulShutdown = (
  servers: net.Server | ReadonlyArray<net.Server>,
  options: GracefulShutdownOptions = {}
): GracefulShutdown => {
  const drainables: Array<Drainable> = (Array.isArray(servers) ? servers : [servers as net.Server]).map(track)
  const signals = typeof options.signal === "string" ? [options.signal] : (options.signal ?? ["SIGTERM"])
  let shuttingDown: Promise<void> | undefined
  const shutdown = (): Promise<void> => {
    shuttingDown ??= Promise.all(drainables.map((d) => d.drain(options)))
      .then(async () => {
        for (const signal of signals) process.off(signal, onSignal)
        stopWatching?.()
        await options.onDrained?.()
      })
      .then(
        () => {
          if (options.exit !== false) process.exit(0)
        },
        (error: unknown) => {
          if (options.exit === false) throw error
          console.error(error)
          process.exit(1)
        }
      )
    return shuttingDown
  }
  const add = (server: net.Server) => {
    const drainable = track(server)
    if (shuttingDown === undefined) drainables.push(drainable)
    else void drainable.drain(options)
  }
  const onSignal = () => void shutdown()
  for (const signal of signals) process.on(signal, onSignal)
  const stopWatching = options.whenSupervisorExits === false ? undefined : onSupervisorExit(onSignal)
  return { shutdown, add }
}
