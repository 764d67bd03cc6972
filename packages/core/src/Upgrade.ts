/**
 * `start_server upgrade`: hand the running service over to a new supervisor process without
 * refusing a connection, in explicit steps, each with its deadline:
 *
 *   1. launch   the new supervisor starts with every socket (it binds nothing);
 *   2. ready    its first generation serves (`--timeout`, default 60 s);
 *   3. commit   it takes the pid file, the status files and the control socket, and confirms
 *               (10 s); until then this supervisor has changed nothing;
 *   4. retire   this supervisor's workers retire as in a restart, and it exits.
 *
 * A failure in 1-3 stops the new process and leaves this supervisor serving as before.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { BoundSocket } from "./ListenSockets.js"
import * as Machine from "./Machine.js"
import { type Report, Successor, type SuccessorProcess } from "./Successor.js"
import type { Supervisor } from "./Supervisor.js"

export interface UpgradeRequest {
  /** The program to start; `undefined`: the one this supervisor was started from. */
  readonly binary?: string | undefined
  /** How long the new supervisor may take until its first generation serves. */
  readonly timeoutMs?: number | undefined
}

export type UpgradeOutcome = Data.TaggedEnum<{
  /** The new supervisor serves; this one's workers are retiring and it exits after them. */
  Completed: {
    readonly pid: number
    readonly previousPid: number
    readonly version: string
    readonly generation: number
  }
  /** The new supervisor failed (and was stopped): this one keeps serving as before. */
  Failed: { readonly reason: string }
  /** Not now: a rollout or another upgrade is in progress. */
  Busy: { readonly reason: string }
  Stopping: {}
}>
export const UpgradeOutcome = Data.taggedEnum<UpgradeOutcome>()

export const defaultReadyTimeoutMs = 60_000
export const commitTimeoutMs = 10_000

/** Why an upgrade cannot begin in this state, if it cannot. */
export const refusal = (state: Machine.State, upgrading: boolean): UpgradeOutcome | undefined => {
  if (Machine.isStopping(state)) return UpgradeOutcome.Stopping()
  if (upgrading) return UpgradeOutcome.Busy({ reason: "an upgrade is already in progress" })
  if (!Machine.isRolledOut(state)) {
    return UpgradeOutcome.Busy({
      reason: `a rollout is in progress (epoch ${state.epoch}); upgrade once it has completed`
    })
  }
  return undefined
}

/** Why a report that is not the one a step waits for fails the upgrade. */
const unexpected = (report: Report, waiting: string): string => {
  switch (report._tag) {
    case "Failed":
      return report.reason
    case "Exited":
      return `the new supervisor ${report.description} before it was ${waiting}`
    default:
      return `the new supervisor reported ${report._tag} before it was ${waiting}`
  }
}

/** One step: the next report within `ms`, or the reason the upgrade fails. */
const awaitReport = <T extends Report["_tag"]>(
  process: SuccessorProcess,
  tag: T,
  ms: number,
  waiting: string
): Effect.Effect<Extract<Report, { readonly _tag: T }>, string> =>
  Effect.flatMap(Effect.timeoutOption(process.next, ms), (report) => {
    if (Option.isNone(report)) {
      return Effect.fail(`the new supervisor (pid ${process.pid}) was not ${waiting} within ${ms / 1000} s`)
    }
    const r = report.value
    return r._tag === tag
      ? Effect.succeed(r as Extract<Report, { readonly _tag: T }>)
      : Effect.fail(unexpected(r, waiting))
  })

/**
 * The upgrade operation of a running supervisor. `pid` is this process's; without a
 * `Successor` (an embedding that provides none) every upgrade fails, saying why.
 */
export const make = (
  supervisor: Supervisor,
  sockets: ReadonlyArray<BoundSocket>,
  pid: number
): Effect.Effect<(request: UpgradeRequest) => Effect.Effect<UpgradeOutcome>> =>
  Effect.gen(function* () {
    const successor = yield* Effect.serviceOption(Successor)
    const upgrading = yield* Ref.make(false)

    const attempt = (service: Successor["Type"], request: UpgradeRequest) =>
      Effect.gen(function* () {
        const state = yield* supervisor.state
        const timeoutMs = request.timeoutMs ?? defaultReadyTimeoutMs
        yield* Effect.logInfo(`upgrading: starting ${request.binary ?? "start_server"} as the new supervisor`)
        // 1. launch
        const process = yield* Effect.mapError(
          service.launch({
            binary: request.binary,
            sockets,
            state: { generation: state.generation, workers: state.config.workers }
          }),
          (e) => e.message
        )
        const failWith = (reason: string) => Effect.zipRight(process.abort, Effect.fail(reason))
        // 2. ready
        const ready = yield* Effect.catchAll(awaitReport(process, "Ready", timeoutMs, "ready"), failWith)
        // 3. commit: from here this process writes none of the shared files, until it gets them back.
        yield* service.relinquish
        yield* process.commit
        yield* Effect.catchAll(awaitReport(process, "Committed", commitTimeoutMs, "in charge"), (reason) =>
          Effect.zipRight(service.reclaim, failWith(reason))
        )
        // 4. retire
        yield* service.closeControl
        yield* Effect.logInfo(
          `start_server (pid:${ready.pid}) version ${ready.version} took over, serving generation ${ready.generation}`
        )
        yield* supervisor.handOver
        return UpgradeOutcome.Completed({
          pid: ready.pid,
          previousPid: pid,
          version: ready.version,
          generation: ready.generation
        })
      }).pipe(
        Effect.scoped,
        Effect.catchAll((reason) =>
          Effect.as(
            Effect.logError(`upgrade failed: ${reason}; this supervisor keeps serving`),
            UpgradeOutcome.Failed({ reason })
          )
        )
      )

    return (request: UpgradeRequest) =>
      Effect.gen(function* () {
        if (Option.isNone(successor)) {
          return UpgradeOutcome.Failed({ reason: "this supervisor cannot start a new one (no Successor service)" })
        }
        const state = yield* supervisor.state
        const refused = yield* Ref.modify(upgrading, (busy) => {
          const why = refusal(state, busy)
          return [why, busy || why === undefined] as const
        })
        if (refused !== undefined) return refused
        const outcome = yield* attempt(successor.value, request)
        // A completed upgrade leaves the flag set: this supervisor is on its way out.
        if (outcome._tag !== "Completed") yield* Ref.set(upgrading, false)
        return outcome
      })
  })
