/**
 * A client of the control socket for the wrapper commands: one request, then the reply
 * that carries its id (`request`), or every line that follows it (`follow`).
 */
import * as net from "node:net"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { WrapperError } from "./PidFileReader.js"

export interface Reply {
  readonly ok?: boolean
  readonly result?: unknown
  readonly error?: string
  /** A supervisor that has handed over refused: the pid of the one in charge now. */
  readonly handedOverTo?: number
  readonly event?: unknown
}

/**
 * A supervisor that has handed over (`start_server upgrade`) refuses what it no longer does;
 * the client asks again on a new connection, which the new supervisor accepts (the old one
 * stops accepting once the handover is confirmed): this many times, this far apart.
 */
const askAgainTimes = 50
const askAgainMs = 20

const handedOver = (reply: Reply): boolean => reply.ok === false && typeof reply.handedOverTo === "number"

/** `once` again while `again` says so, up to `askAgainTimes`; the last answer stands. */
const askingAgain = <A>(
  once: Effect.Effect<A, WrapperError>,
  again: (a: A) => boolean
): Effect.Effect<A, WrapperError> =>
  Effect.flatMap(once, (a) => {
    const loop = (answer: A, left: number): Effect.Effect<A, WrapperError> =>
      left === 0 || !again(answer)
        ? Effect.succeed(answer)
        : Effect.flatMap(Effect.zipRight(Effect.sleep(askAgainMs), once), (next) => loop(next, left - 1))
    return loop(a, askAgainTimes)
  })

/** Exit status of every client command when no supervisor listens on the socket. */
export const notRunningExitCode = 3

const unreachable = (path: string, error: NodeJS.ErrnoException): WrapperError =>
  error.code === "ENOENT" || error.code === "ECONNREFUSED"
    ? new WrapperError({
        message: `start_server is not running (no control socket at ${path})`,
        exitCode: notRunningExitCode
      })
    : new WrapperError({ message: `cannot reach ${path}: ${error.message}`, exitCode: 1 })

/**
 * Sends `body`, then hands each reply line to `onLine` until it answers how the conversation
 * ends, or the connection ends. `ended`: what a connection that ends first means.
 */
const converse = <A>(
  path: string,
  body: Record<string, unknown>,
  onLine: (reply: Reply) => Effect.Effect<A, WrapperError> | undefined,
  ended: () => Effect.Effect<A, WrapperError>
): Effect.Effect<A, WrapperError> =>
  Effect.async<A, WrapperError>((resume) => {
    const socket = net.connect(path)
    let buffer = ""
    let settled = false
    let connected = false
    const settle = (effect: Effect.Effect<A, WrapperError>) => {
      if (settled) return
      settled = true
      socket.destroy()
      resume(effect)
    }
    socket.setEncoding("utf8")
    socket.on("connect", () => {
      connected = true
      socket.write(`${JSON.stringify({ v: 1, id: 1, ...body })}\n`)
    })
    socket.on("data", (chunk: string) => {
      buffer += chunk
      for (let newline = buffer.indexOf("\n"); newline !== -1; newline = buffer.indexOf("\n")) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        let reply: Reply
        try {
          reply = JSON.parse(line) as Reply
        } catch {
          return settle(Effect.fail(new WrapperError({ message: `bad reply from ${path}`, exitCode: 1 })))
        }
        const outcome = onLine(reply)
        if (outcome !== undefined) return settle(outcome)
      }
    })
    // Reset once connected (ECONNRESET, EPIPE): the supervisor went away, as when it closes.
    socket.on("error", (error) => settle(connected ? ended() : Effect.fail(unreachable(path, error))))
    socket.on("close", () => settle(ended()))
    return Effect.sync(() => socket.destroy())
  })

export const request = (path: string, body: Record<string, unknown>): Effect.Effect<Reply, WrapperError> =>
  askingAgain(
    converse(
      path,
      body,
      (reply) => Effect.succeed(reply),
      // No reply before the connection ends: the supervisor went away (a reply resumes first).
      () => Effect.fail(new WrapperError({ message: `${path} closed the connection without answering`, exitCode: 1 }))
    ),
    handedOver
  )

/** Every line after the request, to `onLine`, until the supervisor closes the connection. */
export const follow = (
  path: string,
  body: Record<string, unknown>,
  onLine: (reply: Reply) => void
): Effect.Effect<void, WrapperError> =>
  Effect.flatMap(
    askingAgain(
      converse<Reply | undefined>(
        path,
        body,
        (reply) => {
          if (reply.ok === false) return Effect.succeed(reply)
          onLine(reply)
          return undefined
        },
        () => Effect.succeed(undefined)
      ),
      (refusal) => refusal !== undefined && handedOver(refusal)
    ),
    (refusal) =>
      refusal === undefined
        ? Effect.void
        : Effect.fail(new WrapperError({ message: refusal.error ?? "refused", exitCode: 1 }))
  )

/** A supervisor answers a plain request at once; one that does not within this is stuck. */
export const defaultTimeoutMs = 10_000

/** `result` as `schema` says the command answers; anything else is a bad reply (exit 1). */
export const decode = <A, I>(schema: Schema.Schema<A, I>, socket: string, result: unknown) =>
  Effect.mapError(
    Schema.decodeUnknown(schema)(result),
    (error) => new WrapperError({ message: `unexpected reply from ${socket}: ${error.message}`, exitCode: 1 })
  )

/**
 * One request, bounded by `--timeout`: its result as `schema` reads it, or the refusal (exit
 * status 1), or no answer in time (124).
 */
export const ask = <A, I>(
  options: { readonly timeoutMs?: number | undefined },
  socket: string,
  body: Record<string, unknown>,
  schema: Schema.Schema<A, I>
): Effect.Effect<A, WrapperError> =>
  Effect.gen(function* () {
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
    const answered = yield* request(socket, body).pipe(Effect.timeoutOption(timeoutMs))
    if (answered._tag === "None") {
      return yield* new WrapperError({
        message: `no answer from ${socket} within ${timeoutMs / 1000} secs`,
        exitCode: 124
      })
    }
    const reply = answered.value
    if (reply.ok !== true) return yield* new WrapperError({ message: reply.error ?? "refused", exitCode: 1 })
    return yield* decode(schema, socket, reply.result)
  })
