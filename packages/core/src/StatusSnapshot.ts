/**
 * The supervisor's state for machines: what `start_server status --json`, the control
 * socket's `status` and the JSON status file show. Times are ISO 8601.
 */
import type { RestartReason } from "./Event.js"
import * as ExitStatus from "./ExitStatus.js"
import type * as History from "./History.js"
import * as Machine from "./Machine.js"

export interface WorkerSnapshot {
  readonly pid: number
  readonly generation: number
  readonly index: number
  readonly state: Machine.Phase
  readonly startedAt: string
  readonly readyAt: string | null
  /** How many processes held this index before this one (rollouts and crashes). */
  readonly restarts: number
}

export interface ExitSnapshot {
  readonly pid: number
  readonly generation: number
  readonly code: number | null
  readonly signal: string | null
  /** `exit code 3`, `killed by SIGKILL`. */
  readonly description: string
  readonly at: string
}

export interface RestartSnapshot {
  readonly epoch: number
  readonly reason: RestartReason | "boot"
  readonly outcome: History.RestartOutcome
  readonly startedAt: string
  /** When the outcome was decided (`null` while in progress). */
  readonly endedAt: string | null
  /** When it completed ready; `null` otherwise. */
  readonly completedAt: string | null
  readonly failedStarts: number
  /** Why the last start failed: the reason a failed restart gave up, or why one retries. */
  readonly lastFailure: string | null
  /** Ready: the generation it brought. */
  readonly generation: number | null
  /** Superseded: the restart (epoch) that took over. */
  readonly supersededBy: number | null
}

export type State = "starting" | "serving" | "restarting" | "backing-off" | "crash-loop" | "stopping"

export interface StatusSnapshot {
  readonly version: 1
  /** The last generation number handed out (failed starts consume numbers, as in Perl). */
  readonly generation: number
  /** The newest generation with a ready worker: what answers requests. */
  readonly servingGeneration: number | null
  readonly epoch: number
  /**
   * `backing-off`: fewer workers serve than asked for and respawns wait; `crash-loop`: the
   * same because workers keep dying soon after becoming ready.
   */
  readonly state: State
  readonly workers: ReadonlyArray<WorkerSnapshot>
  readonly targetWorkers: number
  readonly lastRestart: RestartSnapshot
  readonly recentExits: ReadonlyArray<ExitSnapshot>
  /** Workers keep crashing soon after becoming ready; respawns are backing off. */
  readonly crashLoop: boolean
  /** The supervisor process that answers (after `start_server upgrade`, the new one). */
  readonly supervisor?: { readonly pid: number; readonly version?: string }
}

const iso = (ms: number) => new Date(ms).toISOString()
const isoOrNull = (ms: number | undefined) => (ms === undefined ? null : iso(ms))

const restartSnapshot = (r: History.RestartRecord): RestartSnapshot => ({
  epoch: r.epoch,
  reason: r.reason,
  outcome: r.outcome,
  startedAt: iso(r.startedAt),
  endedAt: isoOrNull(r.endedAt),
  completedAt: r.outcome === "ready" ? isoOrNull(r.endedAt) : null,
  failedStarts: r.failures,
  lastFailure: r.lastFailure ?? null,
  generation: r.generation ?? null,
  supersededBy: r.supersededBy ?? null
})

const stateOf = (state: Machine.State, now: number, crashLoop: boolean): State => {
  if (Machine.isStopping(state)) return "stopping"
  const serving = state.workers.filter((w) => w.phase === "serving").length
  if (now < state.holdUntil && serving < state.config.workers) return crashLoop ? "crash-loop" : "backing-off"
  if (!Machine.isRolledOut(state)) return state.epoch <= 1 ? "starting" : "restarting"
  return "serving"
}

export const fromState = (state: Machine.State, now: number): StatusSnapshot => {
  // A loop is over once a replacement, started after the last backoff, has outlived the window.
  const crashLoop = state.loopCrashes > 0 && now < state.holdUntil + state.config.crashWindowMs
  const serving = state.workers.filter((w) => w.phase === "serving").map((w) => w.generation)
  const { history } = state
  return {
    version: 1,
    generation: state.generation,
    servingGeneration: serving.length === 0 ? null : Math.max(...serving),
    epoch: state.epoch,
    state: stateOf(state, now, crashLoop),
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
              readyAt: isoOrNull(w.readyAt),
              restarts: Math.max(0, (history.spawnsByIndex[w.index] ?? 1) - 1)
            }
          ]
    ),
    targetWorkers: state.config.workers,
    lastRestart: restartSnapshot(history.lastRestart),
    recentExits: history.recentExits.map((e) => ({
      pid: e.pid,
      generation: e.generation,
      code: e.status.code,
      signal: e.status.signal,
      description: ExitStatus.describe(e.status),
      at: iso(e.at)
    })),
    crashLoop
  }
}
