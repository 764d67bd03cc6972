/**
 * The control socket's protocol, version 1: one JSON object per line each way.
 * A request names a `cmd`; every reply echoes the request's `id`.
 *
 *   → {"v":1,"id":1,"cmd":"restart"}
 *   ← {"v":1,"id":1,"ok":true,"result":{"outcome":"ready","epoch":3,"generation":5}}
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { isSignalName } from "./Signal.js"

export const version = 1

const base = { v: Schema.optional(Schema.Literal(version)), id: Schema.optional(Schema.Unknown) }

const requests = {
  status: Schema.Struct({ ...base, cmd: Schema.Literal("status") }),
  restart: Schema.Struct({ ...base, cmd: Schema.Literal("restart"), wait: Schema.optional(Schema.Boolean) }),
  /** `wait`: answer once every worker is gone and the supervisor exits, not at once. */
  stop: Schema.Struct({ ...base, cmd: Schema.Literal("stop"), wait: Schema.optional(Schema.Boolean) }),
  scale: Schema.Struct({ ...base, cmd: Schema.Literal("scale"), workers: Schema.Int.pipe(Schema.between(1, 1024)) }),
  signal: Schema.Struct({
    ...base,
    cmd: Schema.Literal("signal"),
    signal: Schema.String.pipe(Schema.filter((s) => isSignalName(s) || `unknown signal ${s}`))
  }),
  subscribe: Schema.Struct({ ...base, cmd: Schema.Literal("subscribe") }),
  /** The last `lines` log entries (default 10); with `follow`, then each new one. */
  logs: Schema.Struct({
    ...base,
    cmd: Schema.Literal("logs"),
    lines: Schema.optional(Schema.Int.pipe(Schema.between(0, 100_000))),
    follow: Schema.optional(Schema.Boolean)
  }),
  "reopen-logs": Schema.Struct({ ...base, cmd: Schema.Literal("reopen-logs") }),
  /**
   * Hand over to a new supervisor process (`binary`, an absolute path; else this one's
   * program); answered once it has taken over, or failed. `timeoutMs`: how long its first
   * generation may take to serve.
   */
  upgrade: Schema.Struct({
    ...base,
    cmd: Schema.Literal("upgrade"),
    binary: Schema.optional(Schema.String.pipe(Schema.filter((s) => s.startsWith("/") || "an absolute path"))),
    timeoutMs: Schema.optional(Schema.Int.pipe(Schema.between(1, 3_600_000)))
  })
}

export type Command = keyof typeof requests
export const commands = Object.keys(requests) as ReadonlyArray<Command>

export const Request = Schema.Union(...Object.values(requests))
export type Request = typeof Request.Type

export type Reply =
  | { readonly v: 1; readonly id: unknown; readonly ok: true; readonly result: unknown }
  | {
      readonly v: 1
      readonly id: unknown
      readonly ok: false
      readonly error: string
      /** Refused by a supervisor that has handed over: the pid of the one to ask (same socket). */
      readonly handedOverTo?: number
    }
  | { readonly v: 1; readonly id: unknown; readonly event: unknown }

export const ok = (id: unknown, result: unknown): Reply => ({ v: version, id: id ?? null, ok: true, result })
export const error = (id: unknown, message: string): Reply => ({
  v: version,
  id: id ?? null,
  ok: false,
  error: message
})
/** A refusal; `handedOverTo`: the supervisor in charge now, which the client asks again. */
export const refused = (id: unknown, message: string, handedOverTo: number | undefined): Reply =>
  handedOverTo === undefined ? error(id, message) : ({ ...error(id, message), handedOverTo } as Reply)
export const event = (id: unknown, payload: unknown): Reply => ({ v: version, id: id ?? null, event: payload })

const isCommand = (cmd: unknown): cmd is keyof typeof requests =>
  typeof cmd === "string" && Object.hasOwn(requests, cmd)

/** Parses one line; a malformed one answers the error reply to send back. */
export const parseLine = (line: string): Either.Either<Request, Reply> => {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    return Either.left(error(null, "malformed JSON"))
  }
  if (typeof json !== "object" || json === null) return Either.left(error(null, "a request is a JSON object"))
  const { id, cmd } = json as { id?: unknown; cmd?: unknown }
  if (!isCommand(cmd))
    return Either.left(error(id, `unknown cmd ${JSON.stringify(cmd)}; one of ${commands.join(", ")}`))
  // Decode against the named command alone, so the error speaks of its fields only.
  return Either.mapLeft(Schema.decodeUnknownEither(requests[cmd] as Schema.Schema<Request, unknown>)(json), (e) =>
    error(
      id,
      ParseResult.ArrayFormatter.formatErrorSync(e)
        .map((issue) => `${issue.path.join(".") || "request"}: ${issue.message}`)
        .join("; ")
    )
  )
}
