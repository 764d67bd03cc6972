/**
 * Which of the sockets start_server passed a `server.listen(...)` gets. A listen on a port
 * start_server holds gets that socket whatever host it names (`3000`, `0.0.0.0`, `::`,
 * `127.0.0.1`, `localhost`): where to bind is start_server's choice. With several sockets on
 * that port, one on the host named is preferred. A listen on a unix path gets the socket
 * start_server bound at that path. Each socket goes to one server: an fd cannot be listened
 * on twice in one process (and a server that closed it closed the fd).
 */
import * as path from "node:path"
import type { ServerPort } from "../ServerPorts.js"
import { isUnixPath } from "../ServerPorts.js"
import type { ListenTarget } from "./ListenRequest.js"

export type Endpoint =
  | { readonly _tag: "Port"; readonly port: number; readonly host: string | undefined }
  | { readonly _tag: "Path"; readonly path: string }

export interface HeldSocket extends ServerPort {
  readonly endpoint: Endpoint
}

export interface HeldSockets {
  readonly all: ReadonlyArray<HeldSocket>
  /**
   * The socket a listen on `target` gets, now taken: `undefined` when start_server holds
   * nothing there (the listen is the app's own), "taken" when every socket start_server holds
   * there went to another server of this process already.
   */
  readonly claim: (target: ListenTarget) => HeldSocket | "taken" | undefined
  /** The sockets no listen has claimed yet. */
  readonly unclaimed: () => ReadonlyArray<HeldSocket>
}

const wildcards = new Set(["", "0.0.0.0", "::"])

/** A host as a listen names it: without brackets, lower case, `undefined` for any address. */
export const normalizeHost = (host: string | undefined): string | undefined => {
  if (host === undefined) return undefined
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase()
  return wildcards.has(bare) ? undefined : bare
}

/** A SERVER_STARTER_PORT key (`8080`, `host:8080`, `[::1]:8080`, a path) as an endpoint. */
export const endpointOf = (key: string, cwd: string): Endpoint => {
  if (isUnixPath(key)) return { _tag: "Path", path: path.resolve(cwd, key) }
  const colon = key.lastIndexOf(":")
  if (colon === -1) return { _tag: "Port", port: Number(key), host: undefined }
  return { _tag: "Port", port: Number(key.slice(colon + 1)), host: normalizeHost(key.slice(0, colon)) }
}

export const make = (ports: ReadonlyArray<ServerPort>, cwd: string = process.cwd()): HeldSockets => {
  const all: ReadonlyArray<HeldSocket> = ports.map((port) => ({ ...port, endpoint: endpointOf(port.key, cwd) }))
  const claimed = new Set<HeldSocket>()
  const there = (target: ListenTarget): ReadonlyArray<HeldSocket> => {
    switch (target._tag) {
      case "Port":
        return all.filter(({ endpoint }) => endpoint._tag === "Port" && endpoint.port === target.port)
      case "Path": {
        const wanted = path.resolve(cwd, target.path)
        return all.filter(({ endpoint }) => endpoint._tag === "Path" && endpoint.path === wanted)
      }
      case "Other":
        return []
    }
  }
  const claim = (target: ListenTarget): HeldSocket | "taken" | undefined => {
    const candidates = there(target)
    if (candidates.length === 0) return undefined
    const free = candidates.filter((socket) => !claimed.has(socket))
    const host = target._tag === "Port" ? normalizeHost(target.host) : undefined
    const chosen = free.find(({ endpoint }) => endpoint._tag === "Port" && endpoint.host === host) ?? free[0] ?? "taken"
    if (chosen !== "taken") claimed.add(chosen)
    return chosen
  }
  return { all, claim, unclaimed: () => all.filter((socket) => !claimed.has(socket)) }
}
