/**
 * Port: the new supervisor process an upgrade hands over to (`start_server upgrade`). The
 * platform starts it with every listening socket, the control socket and the pid file's
 * locked descriptor, and a pipe each way. The old supervisor keeps all of them (and keeps
 * serving) until the new one has confirmed that it took over.
 *
 * The pipes speak lines. Old → new: the state (one JSON line, first), then `commit` (and
 * `abort` if the new one's confirmation comes too late).
 * New → old: `ready <json>` once its first generation serves, or `failed <json>`; then
 * `committed` once it has taken the pid file, the status files and the control socket.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { BoundSocket } from "./ListenSockets.js"

export class SuccessorError extends Data.TaggedError("SuccessorError")<{ readonly message: string }> {}

/** What the old supervisor's machine tells the new one. */
export interface SuccessorState {
  /** The last generation number handed out: the new supervisor's first is the next. */
  readonly generation: number
  /** Workers per generation now (a `scale` since start included). */
  readonly workers: number
}

export const Ready = Schema.Struct({ pid: Schema.Number, version: Schema.String, generation: Schema.Number })
export type Ready = typeof Ready.Type

/** What the new supervisor reports, in order; `Exited` once it has gone (or closed its pipe). */
export type Report = Data.TaggedEnum<{
  Ready: Ready
  Failed: { readonly reason: string }
  Committed: {}
  Exited: { readonly description: string }
}>
export const Report = Data.taggedEnum<Report>()

export const commitLine = "commit"
/** After `commit`: the old supervisor gave up waiting for `committed` and is in charge again. */
export const abortLine = "abort"

/** The line for a report (`Exited` is not sent: the pipe's end says it). */
export const encodeReport = (report: Exclude<Report, { readonly _tag: "Exited" }>): string => {
  switch (report._tag) {
    case "Ready":
      return `ready ${JSON.stringify({ pid: report.pid, version: report.version, generation: report.generation })}`
    case "Failed":
      return `failed ${JSON.stringify({ reason: report.reason })}`
    case "Committed":
      return "committed"
  }
}

const FailedBody = Schema.parseJson(Schema.Struct({ reason: Schema.String }))
const ReadyBody = Schema.parseJson(Ready)

/** A report line; anything else is the protocol broken, which fails the upgrade. */
export const parseReport = (line: string): Report => {
  const space = line.indexOf(" ")
  const [word, body] = space === -1 ? [line, ""] : [line.slice(0, space), line.slice(space + 1)]
  const broken = Report.Failed({ reason: `unexpected report from the new supervisor: ${JSON.stringify(line)}` })
  switch (word) {
    case "ready":
      return Either.match(Schema.decodeUnknownEither(ReadyBody)(body), {
        onLeft: () => broken,
        onRight: (ready) => Report.Ready(ready)
      })
    case "failed":
      return Either.match(Schema.decodeUnknownEither(FailedBody)(body), {
        onLeft: () => broken,
        onRight: ({ reason }) => Report.Failed({ reason })
      })
    case "committed":
      return Report.Committed()
    default:
      return broken
  }
}

/** The new supervisor, running. */
export interface SuccessorProcess {
  readonly pid: number
  /** Its next report (waits for it). */
  readonly next: Effect.Effect<Report>
  /** Tells it to take over the pid file, the status files and the control socket. */
  readonly commit: Effect.Effect<void>
  /**
   * Stops it (TERM, then KILL after a grace period) and waits until it has exited, then stops
   * whatever it left running (its workers, when it was killed): every process of a failed
   * attempt is gone after this. Under systemd, tells systemd this supervisor is ready again.
   */
  readonly abort: Effect.Effect<void>
  /** Sends it HUP: a restart asked of the old supervisor once the new one is in charge. */
  readonly hangUp: Effect.Effect<void>
}

export interface LaunchRequest {
  /** The program to start; `undefined`: the one this supervisor was started from. */
  readonly binary: string | undefined
  readonly sockets: ReadonlyArray<BoundSocket>
  readonly state: SuccessorState
}

export class Successor extends Context.Tag("@starter/core/Successor")<
  Successor,
  {
    /** Starts the new supervisor; the pipes close with the scope (the process lives on). */
    readonly launch: (request: LaunchRequest) => Effect.Effect<SuccessorProcess, SuccessorError, Scope.Scope>
    /**
     * From now on this process writes and removes none of the shared files and paths (pid file,
     * status files, socket paths, control socket): they are the new supervisor's.
     */
    readonly relinquish: Effect.Effect<void>
    /** Undoes `relinquish`: the new supervisor did not confirm, this one stays in charge. */
    readonly reclaim: Effect.Effect<void>
    /** Stops accepting control connections (the new supervisor accepts them on the same socket). */
    readonly closeControl: Effect.Effect<void>
  }
>() {}
