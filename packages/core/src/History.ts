/**
 * What the supervisor remembers of its past, for status: the newest restart and how it
 * ended, the most recent worker exits, and how many processes each worker index has had.
 * It is a fold of the lifecycle events the machine publishes, so it can never tell a story
 * the events did not.
 */
import type { RestartReason } from "./Event.js"
import type { ExitStatus } from "./ExitStatus.js"
import { explainFailure, type Lifecycle, type RolloutFailure } from "./Lifecycle.js"

/**
 * `failed`: given up after too many failed starts (the old workers keep serving);
 * `superseded`: a newer restart took over before this one completed;
 * `interrupted`: a shutdown began first.
 */
export type RestartOutcome = "in-progress" | "ready" | "failed" | "superseded" | "interrupted"

export interface RestartRecord {
  readonly epoch: number
  readonly reason: RestartReason | "boot"
  readonly startedAt: number
  readonly outcome: RestartOutcome
  /** When the outcome was decided; `undefined` while in progress. */
  readonly endedAt: number | undefined
  /** Failed starts so far, and the last one's reason (in progress: why it is retrying). */
  readonly failures: number
  readonly lastFailure: string | undefined
  /** The last failed start itself (`lastFailure` is its explanation). */
  readonly failure: RolloutFailure | undefined
  /** Ready: the generation it brought; superseded: the restart that took over. */
  readonly generation: number | undefined
  readonly supersededBy: number | undefined
}

export interface RecordedExit {
  readonly pid: number
  readonly generation: number
  readonly status: ExitStatus
  readonly at: number
}

export interface History {
  readonly lastRestart: RestartRecord
  /** The newest last, at most `keptExits`. */
  readonly recentExits: ReadonlyArray<RecordedExit>
  /** Processes spawned per worker index: one more than that index's restarts. */
  readonly spawnsByIndex: ReadonlyArray<number>
}

export const keptExits = 20

export const empty: History = {
  lastRestart: {
    epoch: 0,
    reason: "boot",
    startedAt: 0,
    outcome: "in-progress",
    endedAt: undefined,
    failures: 0,
    lastFailure: undefined,
    failure: undefined,
    generation: undefined,
    supersededBy: undefined
  },
  recentExits: [],
  spawnsByIndex: []
}

const ended = (h: History, epoch: number, now: number, patch: Partial<RestartRecord>): History =>
  h.lastRestart.epoch !== epoch || h.lastRestart.outcome !== "in-progress"
    ? h
    : { ...h, lastRestart: { ...h.lastRestart, ...patch, endedAt: now } }

export const fold = (h: History, event: Lifecycle, now: number): History => {
  switch (event._tag) {
    case "RolloutStarted":
      return { ...h, lastRestart: { ...empty.lastRestart, epoch: event.epoch, reason: event.reason, startedAt: now } }
    case "RolloutCompleted":
      return ended(h, event.epoch, now, { outcome: "ready", generation: event.generation })
    case "RolloutAbandoned":
      return ended(h, event.epoch, now, {
        outcome: "failed",
        lastFailure: explainFailure(event.failure),
        failure: event.failure
      })
    case "RolloutSuperseded":
      return ended(h, event.epoch, now, { outcome: "superseded", supersededBy: event.by })
    case "ShutdownStarted":
      return ended(h, h.lastRestart.epoch, now, { outcome: "interrupted" })
    case "StartFailed":
      return h.lastRestart.outcome !== "in-progress"
        ? h
        : {
            ...h,
            lastRestart: {
              ...h.lastRestart,
              failures: event.attempt,
              lastFailure: explainFailure(event.failure),
              failure: event.failure
            }
          }
    case "WorkerSpawned": {
      const spawnsByIndex = [...h.spawnsByIndex]
      for (let i = spawnsByIndex.length; i <= event.index; i++) spawnsByIndex.push(0)
      spawnsByIndex[event.index] = (spawnsByIndex[event.index] ?? 0) + 1
      return { ...h, spawnsByIndex }
    }
    case "WorkerExited": {
      const exit = { pid: event.pid, generation: event.generation, status: event.status, at: now }
      return { ...h, recentExits: [...h.recentExits, exit].slice(-keptExits) }
    }
    default:
      return h
  }
}
