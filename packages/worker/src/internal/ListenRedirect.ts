/**
 * `net.Server#listen`, patched so that a listen on a socket start_server holds listens on the
 * inherited fd instead of binding (which would fail: start_server holds the port). Every Node
 * server is a `net.Server` (`http`, `https`, `http2`, `tls`; Express, Koa and Nest through
 * `http.Server#listen(port)`, Fastify through `listen(options)`), so one patch covers them.
 * Any other listen (another port, port 0, an fd, a handle) is passed to Node untouched.
 */
import * as net from "node:net"
import * as os from "node:os"
import type { HeldSocket, HeldSockets } from "./HeldSockets.js"
import * as ListenRequest from "./ListenRequest.js"

export interface Redirect {
  /** listen(2) backlog for an inherited socket, given the one the app asked for. */
  readonly backlog: (requested: number | undefined) => number
  /** Before `server` listens on `socket`: it accepts from then on. */
  readonly adopting: (server: net.Server, socket: HeldSocket) => void
  /** Once `server` listens on `socket`. */
  readonly listening: (server: net.Server, socket: HeldSocket) => void
}

const describe = (target: ListenRequest.ListenTarget): string =>
  target._tag === "Port" ? `${target.host ?? ""}:${target.port}` : target._tag === "Path" ? target.path : "?"

/** The error a second listen on a socket already served in this process gets, as a bind would. */
const taken = (target: ListenRequest.ListenTarget): NodeJS.ErrnoException =>
  Object.assign(
    new Error(
      `listen EADDRINUSE: address already in use ${describe(target)} (start_server's socket there is served by another server of this process)`
    ),
    { code: "EADDRINUSE", errno: -os.constants.errno.EADDRINUSE, syscall: "listen" }
  )

/** Patches `net.Server.prototype.listen`, for the life of the process. */
export const install = (held: HeldSockets, redirect: Redirect): void => {
  const original = net.Server.prototype.listen
  // Node's `listen(handle, backlog, callback)` form, which `{ fd }` takes.
  const onFd = original as (this: net.Server, handle: object, backlog: number, callback?: () => void) => net.Server
  const listen = function (this: net.Server, ...args: Array<unknown>): net.Server {
    // A server already listening gets Node's own error (ERR_SERVER_ALREADY_LISTEN).
    if (this.listening) return original.apply(this, args as Parameters<typeof original>)
    const request = ListenRequest.parse(args)
    const socket = held.claim(request.target)
    if (socket === undefined) return original.apply(this, args as Parameters<typeof original>)
    if (socket === "taken") {
      process.nextTick(() => this.emit("error", taken(request.target)))
      return this
    }
    redirect.adopting(this, socket)
    this.once("listening", () => redirect.listening(this, socket))
    if (request.target._tag === "Path") {
      // Node answers the path only for a server that bound it; this one opened an fd.
      const bound = request.target.path
      Object.defineProperty(this, "address", {
        configurable: true,
        writable: true,
        value: () => (this.listening ? bound : null)
      })
    }
    // Node ignores `options.backlog` next to an fd: the backlog goes as the argument.
    const options = request.signal === undefined ? { fd: socket.fd } : { fd: socket.fd, signal: request.signal }
    const backlog = redirect.backlog(request.backlog)
    return request.callback === undefined
      ? onFd.call(this, options, backlog)
      : onFd.call(this, options, backlog, request.callback)
  }
  net.Server.prototype.listen = listen as typeof original
}
