/**
 * What the supervisor reports to observers (the events stream, the control socket's
 * `subscribe`, metrics). One record per fact, already decided by the state machine.
 */
import * as Data from "effect/Data"
import type { RestartReason } from "./Event.js"
import { type ExitStatus, exited, waitStatus } from "./ExitStatus.js"
import type { Unexecutable } from "./ProcessSpawner.js"

export type RolloutFailure = Data.TaggedEnum<{
  Exited: { readonly status: ExitStatus }
  ReadyTimeout: { readonly timeoutMs: number; readonly detail: string | undefined }
  /** `message`: Perl's log line; `reason`: in words; `exitCode`: what Perl's child exits with. */
  SpawnFailed: {
    readonly message: string
    readonly reason: string
    readonly exitCode: number
    readonly unexecutable: Unexecutable | undefined
  }
}>
export const RolloutFailure = Data.taggedEnum<RolloutFailure>()

export type Lifecycle = Data.TaggedEnum<{
  WorkerSpawned: { readonly pid: number; readonly generation: number; readonly index: number }
  WorkerReady: { readonly pid: number; readonly generation: number; readonly latencyMs: number }
  /** A stop signal (retirement, shutdown, timeout, kill) was sent. */
  WorkerSignalled: { readonly pid: number; readonly generation: number; readonly signal: string }
  WorkerExited: { readonly pid: number; readonly generation: number; readonly status: ExitStatus }
  StartFailed: { readonly generation: number; readonly attempt: number; readonly failure: RolloutFailure }
  RolloutStarted: { readonly epoch: number; readonly reason: RestartReason | "boot" }
  RolloutCompleted: { readonly epoch: number; readonly generation: number }
  RolloutAbandoned: { readonly epoch: number; readonly attempts: number; readonly failure: RolloutFailure }
  /** A newer restart replaced this rollout before it completed. */
  RolloutSuperseded: { readonly epoch: number; readonly by: number }
  /** The restart will run as rollout `epoch`, after the one in progress. */
  RestartQueued: { readonly reason: RestartReason; readonly epoch: number }
  /** `handover`: a new supervisor took over (`start_server upgrade`); the workers retire. */
  ShutdownStarted: { readonly signal: "TERM" | "INT" | "handover" }
}>
export const Lifecycle = Data.taggedEnum<Lifecycle>()

const notReady = (timeoutMs: number, detail: string | undefined) =>
  `not ready within ${timeoutMs / 1000}s${detail === undefined ? "" : ` (${detail})`}`

/**
 * For the Perl-compatible log lines: the raw wait status, as Perl prints it (a program that
 * could not be run is Perl's child exiting with `exitCode`).
 */
export const describeFailure = (failure: RolloutFailure): string =>
  RolloutFailure.$match(failure, {
    Exited: ({ status }) => `exit status:${waitStatus(status)}`,
    ReadyTimeout: ({ timeoutMs, detail }) => notReady(timeoutMs, detail),
    SpawnFailed: ({ exitCode }) => `exit status:${waitStatus(exited(exitCode))}`
  })

/**
 * For people (status, restart outcomes, events): `exited with code 1 before it was ready`,
 * `exec failed: nodee: No such file or directory`; never a raw wait status.
 */
export const explainFailure = (failure: RolloutFailure): string =>
  RolloutFailure.$match(failure, {
    Exited: ({ status }) =>
      `${status.signal !== null ? `killed by SIG${status.signal}` : `exited with code ${status.code ?? 0}`} before it was ready`,
    ReadyTimeout: ({ timeoutMs, detail }) => notReady(timeoutMs, detail),
    SpawnFailed: ({ reason }) => reason
  })
