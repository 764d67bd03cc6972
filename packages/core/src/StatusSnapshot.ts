/**
 * The supervisor's state for machines: what `start_server status --json`, the control
 * socket's `status` and the JSON status file show. Times are ISO 8601.
 */
import type { RestartReason } from "./Event.js"
import type { ExitStatus } from "./ExitStatus.js"
import type * as Machine from "./Machine.js"

export interface WorkerSnapshot {
  readonly pid: number
  readonly generation: number
  readonly index: number
  readonly state: Machine.Phase
  readonly startedAt: string
  readonly readyAt: string | null
}

export interface ExitSnapshot {
  readonly pid: number
  readonly generation: number
  readonly code: number | null
  readonly signal: string | null
  readonly at: string
}

export interface StatusSnapshot {
  readonly version: 1
  readonly generation: number
  readonly epoch: number
  /** `backing-off`: fewer workers serve than asked for, and respawns wait (a crash loop). */
  readonly state: "starting" | "serving" | "backing-off" | "restarting" | "stopping"
  readonly workers: ReadonlyArray<WorkerSnapshot>
  readonly targetWorkers: number
  readonly lastRestart: { readonly reason: RestartReason | "boot"; readonly completedAt: string | null }
  readonly recentExits: ReadonlyArray<ExitSnapshot>
  /** Workers keep crashing soon after becoming ready; respawns are backing off. */
  readonly crashLoop: boolean
}

export interface RecordedExit {
  readonly pid: number
  readonly generation: number
  readonly status: ExitStatus
  readonly at: number
}

const iso = (ms: number) => new Date(ms).toISOString()

export const fromState = (state: Machine.State, exits: ReadonlyArray<RecordedExit>, now: number): StatusSnapshot => ({
  version: 1,
  generation: state.generation,
  epoch: state.epoch,
  state:
    state.shutdown !== undefined
      ? "stopping"
      : !state.rolledOut
        ? state.epoch <= 1
          ? "starting"
          : "restarting"
        : now < state.holdUntil && state.workers.filter((w) => w.phase === "serving").length < state.config.workers
          ? "backing-off"
          : "serving",
  workers: state.workers.flatMap((w) =>
    w.pid === undefined
      ? []
      : [
          {
            pid: w.pid,
            generation: w.generation,
            index: w.index,
            state: w.phase,
            startedAt: iso(w.spawnedAt),
            readyAt: w.readyAt === undefined ? null : iso(w.readyAt)
          }
        ]
  ),
  targetWorkers: state.config.workers,
  lastRestart: { reason: state.epochReason, completedAt: state.rolledOut ? iso(state.lastRestartAt) : null },
  recentExits: exits.map((e) => ({
    pid: e.pid,
    generation: e.generation,
    code: e.status.code,
    signal: e.status.signal,
    at: iso(e.at)
  })),
  // A loop is over once a replacement, started after the last backoff, has outlived the window.
  crashLoop: state.loopCrashes > 0 && now < state.holdUntil + state.config.crashWindowMs
})
