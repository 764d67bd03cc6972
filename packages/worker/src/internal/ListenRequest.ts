/**
 * What a `server.listen(...)` call asks for, read from its arguments the way Node's
 * `net.Server#listen` reads them: `(port[, host][, backlog][, callback])`,
 * `(path[, backlog][, callback])`, `(options[, callback])` or `(handle[, backlog][, callback])`.
 */

/** Where the listen would bind: a TCP port, a unix path, or anything else (an fd, a handle, port 0). */
export type ListenTarget =
  | { readonly _tag: "Port"; readonly port: number; readonly host: string | undefined }
  | { readonly _tag: "Path"; readonly path: string }
  | { readonly _tag: "Other" }

export interface ListenRequest {
  readonly target: ListenTarget
  /** The backlog the call names, if any. */
  readonly backlog: number | undefined
  readonly callback: (() => void) | undefined
  /** `options.signal`: closes the server when aborted. */
  readonly signal: AbortSignal | undefined
}

/** Node's `toNumber`: a number >= 0, else false. */
const toNumber = (value: unknown): number | false => {
  const number = Number(value)
  return number >= 0 ? number : false
}

const other: ListenTarget = { _tag: "Other" }

const portTarget = (port: unknown, host: unknown): ListenTarget => {
  if (typeof port !== "number" && typeof port !== "string") return other
  const number = toNumber(port)
  // Port 0 (or none) asks the kernel for a free port: never one start_server holds.
  if (number === false || number === 0 || !Number.isInteger(number)) return other
  return { _tag: "Port", port: number, host: typeof host === "string" ? host : undefined }
}

interface Options {
  readonly port?: unknown
  readonly host?: unknown
  readonly path?: unknown
  readonly fd?: unknown
  readonly handle?: unknown
  readonly _handle?: unknown
  readonly backlog?: unknown
  readonly signal?: unknown
}

export const parse = (args: ReadonlyArray<unknown>): ListenRequest => {
  const last = args.at(-1)
  const callback = typeof last === "function" ? (last as () => void) : undefined
  const [first, second] = args
  // Node: the backlog is the second argument, or the third after a host.
  const backlogFromArgs = (args.length > 1 && toNumber(second)) || (args.length > 2 && toNumber(args[2])) || undefined
  if (typeof first === "object" && first !== null) {
    const options = first as Options
    const signal = options.signal instanceof AbortSignal ? options.signal : undefined
    const backlog = toNumber(options.backlog) || backlogFromArgs
    const base = { backlog, callback, signal }
    if (options.fd !== undefined || options.handle !== undefined || options._handle !== undefined) {
      return { ...base, target: other }
    }
    const hasPort = typeof options.port === "number" || typeof options.port === "string"
    if (!hasPort && typeof options.path === "string" && toNumber(options.path) === false) {
      return { ...base, target: { _tag: "Path", path: options.path } }
    }
    return { ...base, target: portTarget(options.port, options.host) }
  }
  const base = { backlog: backlogFromArgs, callback, signal: undefined }
  // Node's isPipeName: a string that is not a number.
  if (typeof first === "string" && toNumber(first) === false) return { ...base, target: { _tag: "Path", path: first } }
  return { ...base, target: portTarget(first, second) }
}
