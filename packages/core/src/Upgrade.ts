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
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { RestartReason } from "./Event.js"
import type { BoundSocket } from "./ListenSockets.js"
import * as Machine from "./Machine.js"
import { type Report, Successor, type SuccessorProcess } from "./Successor.js"
import type { RestartOutcome, Supervisor } from "./Supervisor.js"

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
 * Where this supervisor stands with upgrades. A restart asked for (HUP) while a new supervisor
 * is on its way is held: it would start a generation whose number the new one uses too. Once
 * the upgrade ends it runs here (failed), or goes to the new supervisor (completed), as does
 * any restart asked of this one after it handed over.
 */
type Phase = Data.TaggedEnum<{
  Idle: {}
  Upgrading: { readonly held: RestartReason | undefined }
  HandedOver: { readonly pid: number; readonly hangUp: Effect.Effect<void> }
}>
const Phase = Data.taggedEnum<Phase>()

/** A running supervisor's upgrades, and its restarts, which an upgrade in progress holds. */
export interface Upgrades {
  readonly upgrade: (request: UpgradeRequest) => Effect.Effect<UpgradeOutcome>
  /** `Supervisor.restart`, held during an upgrade and passed on after one (see `Phase`). */
  readonly restart: (reason: RestartReason) => Effect.Effect<void>
  /** `Supervisor.restartAndWait`; refused during an upgrade and after one (no outcome to wait for here). */
  readonly restartAndWait: (reason: RestartReason) => Effect.Effect<RestartOutcome>
}

/**
 * The upgrades of a running supervisor. `pid` is this process's; without a `Successor` (an
 * embedding that provides none) every upgrade fails, saying why.
 */
export const make = (
  supervisor: Supervisor,
  sockets: ReadonlyArray<BoundSocket>,
  pid: number
): Effect.Effect<Upgrades> =>
  Effect.gen(function* () {
    const successor = yield* Effect.serviceOption(Successor)
    const phase = yield* Ref.make<Phase>(Phase.Idle())

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
        // 3. commit, unless this supervisor has moved on meanwhile: a TERM, or a rollout of its own
        // (an auto-restart) whose generation number the new one has taken too.
        const now = yield* supervisor.state
        if (Machine.isStopping(now)) yield* failWith("start_server is stopping")
        if (now.epoch !== state.epoch) {
          yield* failWith(`a rollout began meanwhile (epoch ${now.epoch}); upgrade once it has completed`)
        }
        // From here this process writes none of the shared files, until it gets them back.
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
        return {
          outcome: UpgradeOutcome.Completed({
            pid: ready.pid,
            previousPid: pid,
            version: ready.version,
            generation: ready.generation
          }),
          hangUp: process.hangUp
        }
      }).pipe(
        Effect.scoped,
        // A defect (a platform's bug) fails the upgrade too: the phase must come back to Idle.
        Effect.catchAllCause((cause) => {
          const reason = Cause.isFailType(cause) ? cause.error : `a defect: ${String(Cause.squash(cause))}`
          return Effect.as(Effect.logError(`upgrade failed: ${reason}; this supervisor keeps serving`), {
            outcome: UpgradeOutcome.Failed({ reason }),
            hangUp: undefined
          })
        })
      )

    /** Ends the upgrade in `phase`; a restart held meanwhile runs here, or goes to the new supervisor. */
    const settle = (ended: { readonly outcome: UpgradeOutcome; readonly hangUp: Effect.Effect<void> | undefined }) =>
      Effect.gen(function* () {
        const { outcome, hangUp } = ended
        const next =
          outcome._tag === "Completed" && hangUp !== undefined
            ? Phase.HandedOver({ pid: outcome.pid, hangUp })
            : Phase.Idle()
        const held = yield* Ref.modify(phase, (now) => [now._tag === "Upgrading" ? now.held : undefined, next])
        if (held !== undefined) yield* passOn(next, held)
        return outcome
      })

    /** A restart that this supervisor does not run itself now: passed on, or run. */
    const passOn = (now: Phase, reason: RestartReason): Effect.Effect<void> => {
      switch (now._tag) {
        case "HandedOver":
          return Effect.zipRight(
            Effect.logInfo(`passing the restart (${reason}) on to start_server (pid:${now.pid}), which serves now`),
            now.hangUp
          )
        case "Idle":
          return supervisor.restart(reason)
        case "Upgrading":
          return Effect.logInfo(`restart (${reason}) held until the upgrade in progress ends`)
      }
    }

    const upgrade = (request: UpgradeRequest) =>
      Effect.gen(function* () {
        if (Option.isNone(successor)) {
          return UpgradeOutcome.Failed({ reason: "this supervisor cannot start a new one (no Successor service)" })
        }
        const state = yield* supervisor.state
        const refused = yield* Ref.modify(phase, (now) => {
          const why = refusal(state, now._tag !== "Idle")
          return [why, why === undefined ? Phase.Upgrading({ held: undefined }) : now] as const
        })
        if (refused !== undefined) return refused
        return yield* Effect.flatMap(attempt(successor.value, request), settle)
      })

    const restart = (reason: RestartReason) =>
      Effect.flatMap(
        Ref.modify(phase, (now) => [now, now._tag === "Upgrading" ? Phase.Upgrading({ held: reason }) : now] as const),
        (now) => passOn(now, reason)
      )

    const restartAndWait = (reason: RestartReason) =>
      Effect.flatMap(Ref.get(phase), (now): Effect.Effect<RestartOutcome> => {
        if (now._tag === "Idle") return supervisor.restartAndWait(reason)
        return Effect.map(supervisor.state, (state) => ({
          _tag: "Failed",
          epoch: state.epoch,
          reason:
            now._tag === "Upgrading"
              ? "an upgrade is in progress; restart once it has completed"
              : `this supervisor has handed over to start_server (pid:${now.pid}); restart that one`
        }))
      })

    return { upgrade, restart, restartAndWait }
  })
