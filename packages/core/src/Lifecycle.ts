/**
 * What the supervisor reports to observers (the events stream, the control socket's
 * `subscribe`, metrics). One record per fact, already decided by the state machine.
 */
import * as Data from "effect/Data"
import type { RestartReason } from "./Event.js"
import type { ExitStatus } from "./ExitStatus.js"

export type RolloutFailure = Data.TaggedEnum<{
  Exited: { readonly status: ExitStatus }
  ReadyTimeout: { readonly timeoutMs: number }
  SpawnFailed: { readonly message: string }
}>
export const RolloutFailure = Data.taggedEnum<RolloutFailure>()

export type Lifecycle = Data.TaggedEnum<{
  WorkerSpawned: { readonly pid: number; readonly generation: number; readonly index: number }
  WorkerReady: { readonly pid: number; readonly generation: number; readonly latencyMs: number }
  WorkerExited: { readonly pid: number; readonly generation: number; readonly status: ExitStatus }
  StartFailed: { readonly generation: number; readonly attempt: number; readonly failure: RolloutFailure }
  RolloutStarted: { readonly epoch: number; readonly reason: RestartReason | "boot" }
  RolloutCompleted: { readonly epoch: number; readonly generation: number }
  RolloutAbandoned: { readonly epoch: number; readonly attempts: number; readonly failure: RolloutFailure }
  RestartQueued: { readonly reason: RestartReason }
  ShutdownStarted: { readonly signal: "TERM" | "INT" }
}>
export const Lifecycle = Data.taggedEnum<Lifecycle>()
