/**
 * What each control command answers, as Schemas that the server's replies are typed by and
 * the clients decode with: the two sides cannot drift apart, and a client never casts.
 */
import * as Schema from "effect/Schema"
import type * as Logs from "./Logs.js"
import type * as StatusSnapshot from "./StatusSnapshot.js"

const restartReason = Schema.Literal("hup", "auto", "control")

const WorkerSnapshot: Schema.Schema<StatusSnapshot.WorkerSnapshot> = Schema.Struct({
  pid: Schema.Number,
  generation: Schema.Number,
  index: Schema.Number,
  state: Schema.Literal("starting", "serving", "draining"),
  startedAt: Schema.String,
  readyAt: Schema.NullOr(Schema.String),
  restarts: Schema.Number
})

const ExitSnapshot: Schema.Schema<StatusSnapshot.ExitSnapshot> = Schema.Struct({
  pid: Schema.Number,
  generation: Schema.Number,
  code: Schema.NullOr(Schema.Number),
  signal: Schema.NullOr(Schema.String),
  description: Schema.String,
  at: Schema.String
})

const RestartSnapshot: Schema.Schema<StatusSnapshot.RestartSnapshot> = Schema.Struct({
  epoch: Schema.Number,
  reason: Schema.Union(restartReason, Schema.Literal("boot")),
  outcome: Schema.Literal("in-progress", "ready", "failed", "superseded", "interrupted"),
  startedAt: Schema.String,
  endedAt: Schema.NullOr(Schema.String),
  completedAt: Schema.NullOr(Schema.String),
  failedStarts: Schema.Number,
  lastFailure: Schema.NullOr(Schema.String),
  generation: Schema.NullOr(Schema.Number),
  supersededBy: Schema.NullOr(Schema.Number)
})

export const Status: Schema.Schema<StatusSnapshot.StatusSnapshot> = Schema.Struct({
  version: Schema.Literal(1),
  generation: Schema.Number,
  servingGeneration: Schema.NullOr(Schema.Number),
  epoch: Schema.Number,
  state: Schema.Literal("starting", "serving", "restarting", "backing-off", "crash-loop", "stopping"),
  workers: Schema.Array(WorkerSnapshot),
  targetWorkers: Schema.Number,
  lastRestart: RestartSnapshot,
  recentExits: Schema.Array(ExitSnapshot),
  crashLoop: Schema.Boolean,
  supervisor: Schema.optionalWith(
    Schema.Struct({ pid: Schema.Number, version: Schema.optionalWith(Schema.String, { exact: true }) }),
    { exact: true }
  )
})

/** `restart`: how the rollout ended (`requested` for `wait: false`). */
export const Restart = Schema.Union(
  Schema.Struct({ outcome: Schema.Literal("ready"), epoch: Schema.Number, generation: Schema.Number }),
  Schema.Struct({ outcome: Schema.Literal("failed"), epoch: Schema.Number, reason: Schema.String }),
  Schema.Struct({ outcome: Schema.Literal("superseded"), epoch: Schema.Number, by: Schema.Number }),
  Schema.Struct({ outcome: Schema.Literal("stopping") }),
  Schema.Struct({ outcome: Schema.Literal("requested") })
)
export type Restart = typeof Restart.Type

/** `stop`: at once, or (`wait: true`) once every worker is gone. */
export const Stop = Schema.Union(
  Schema.Struct({ stopping: Schema.Literal(true) }),
  Schema.Struct({ stopped: Schema.Literal(true), exitCode: Schema.Number })
)
export type Stop = typeof Stop.Type

/** `scale` (the new target) and `signal` (how many workers it was sent to). */
export const Workers = Schema.Struct({ workers: Schema.Number })
export type Workers = typeof Workers.Type

export const Subscribed = Schema.Struct({ subscribed: Schema.Literal(true) })

const LogEntry: Schema.Schema<Logs.LogEntry> = Schema.Struct({
  at: Schema.String,
  from: Schema.Literal("supervisor", "stdout", "stderr"),
  pid: Schema.optionalWith(Schema.Number, { exact: true }),
  generation: Schema.optionalWith(Schema.Number, { exact: true }),
  line: Schema.String
})

/** `logs`: the last lines (then, with `follow`, one event per later line). */
export const LogLines = Schema.Struct({ lines: Schema.Array(LogEntry) })
export const LogLine = LogEntry

/** `upgrade`: how the handover ended. */
export const Upgrade = Schema.Union(
  Schema.Struct({
    outcome: Schema.Literal("completed"),
    pid: Schema.Number,
    previousPid: Schema.Number,
    version: Schema.String,
    generation: Schema.Number
  }),
  Schema.Struct({ outcome: Schema.Literal("failed"), reason: Schema.String }),
  Schema.Struct({ outcome: Schema.Literal("busy"), reason: Schema.String }),
  Schema.Struct({ outcome: Schema.Literal("stopping") })
)
export type Upgrade = typeof Upgrade.Type

export const Reopened: Schema.Schema<Logs.Reopened> = Schema.Struct({
  reopened: Schema.NullOr(Schema.String),
  reason: Schema.optionalWith(Schema.String, { exact: true })
})
