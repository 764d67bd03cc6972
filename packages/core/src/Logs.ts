/**
 * Port: the supervisor's log as the control socket serves it. A bounded tail of its recent
 * lines (its own, and its workers' when their output is tagged), the lines that follow, and
 * reopening `--log-file` after logrotate moved it. Optional: a supervisor without it answers
 * `logs` and `reopen-logs` with an error.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"

export interface LogEntry {
  /** When the line was logged (ISO 8601). */
  readonly at: string
  /** `supervisor`: start_server's own line; else the worker's stream it came from. */
  readonly from: "supervisor" | "stdout" | "stderr"
  /** A worker's line: the worker's pid and generation. */
  readonly pid?: number
  readonly generation?: number
  /** The line as the log has it (with its `[pid … gen …]` prefix, or as a JSON object). */
  readonly line: string
}

export interface Following {
  readonly last: ReadonlyArray<LogEntry>
  /** Every entry logged after `last`, until `until` completes: then those logged before it, and the end. */
  readonly next: Stream.Stream<LogEntry>
}

/** `reopened`: the path reopened; `null` with `reason` when there was nothing to reopen. */
export interface Reopened {
  readonly reopened: string | null
  readonly reason?: string
}

export class LogReopenError extends Data.TaggedError("LogReopenError")<{ readonly message: string }> {}

export class Logs extends Context.Tag("@starter/core/Logs")<
  Logs,
  {
    /** The last `lines` entries the tail holds, oldest first. */
    readonly last: (lines: number) => Effect.Effect<ReadonlyArray<LogEntry>>
    /** The last `lines`, then every later entry, taken at one moment: none missed, none twice. */
    readonly follow: (lines: number, until: Effect.Effect<void>) => Effect.Effect<Following, never, Scope.Scope>
    /**
     * Reopens `--log-file` at its path and says so in the log; a failure is logged too, and
     * leaves the old file in use. Without `--log-file` it does nothing and logs nothing: a
     * terminal's resize sends the signal that asks for it (WINCH).
     */
    readonly reopen: Effect.Effect<Reopened, LogReopenError>
  }
>() {}
