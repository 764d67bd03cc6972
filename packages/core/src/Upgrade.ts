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
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { Command } from "./ControlProtocol.js"
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

/** Why an attempt ends when this supervisor stops meanwhile: its outcome is `Stopping`, not `Failed`. */
const stoppingReason = "start_server is stopping"

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
 * Whether a control command is carried out by this supervisor, or refused: a reply never
 * claims what did not happen. `successor`: the supervisor in charge now, which the client asks
 * again (on the same control socket, which is that one's by then).
 */
export type Admission = Data.TaggedEnum<{
  Proceed: {}
  Refused: { readonly reason: string; readonly successor: number | undefined }
}>
export const Admission = Data.taggedEnum<Admission>()

/** What a supervisor that has handed over still answers itself: its log (shared) and nothing else. */
const answeredAfterHandover: ReadonlySet<Command> = new Set<Command>(["logs", "reopen-logs"])

/**
 * Where this supervisor stands with upgrades. A restart asked for (HUP) while a new supervisor
 * is on its way is held: it would start a generation whose number the new one uses too. Once
 * the upgrade ends it runs here (failed), or goes to the new supervisor (completed), as does
 * any restart asked of this one after it handed over.
 */
type Phase = Data.TaggedEnum<{
  Idle: {}
  /**
   * `stopping`: this supervisor was told to stop meanwhile (`stop` completes then): the
   * upgrade ends at once, and never commits. `done` completes once the upgrade has ended.
   */
  Upgrading: {
    readonly held: RestartReason | undefined
    readonly stopping: boolean
    readonly stop: Deferred.Deferred<void>
    readonly done: Deferred.Deferred<void>
  }
  /** Told to commit: who is in charge is decided when `done` completes. */
  Committing: { readonly held: RestartReason | undefined; readonly done: Deferred.Deferred<void> }
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
  /** `Supervisor.shutdown`; an upgrade that has not committed yet ends (the new supervisor is stopped). */
  readonly shutdown: Supervisor["shutdown"]
  /** Completes once no upgrade is in progress (a stopped one has stopped its new supervisor). */
  readonly quiet: Effect.Effect<void>
  /** Whether this supervisor carries out a control command now (see `admission`). */
  readonly admit: (command: Command) => Effect.Effect<Admission>
  /**
   * `Supervisor.scale` if admitted (see `admission`), decided at once with the number an
   * upgrade that begins later gives its new supervisor.
   */
  readonly scale: (workers: number) => Effect.Effect<Admission>
}

/**
 * Who carries out a control command, by phase: after a handover, the new supervisor (the
 * client asks it); during an upgrade, this one, except `scale` (the new supervisor was given
 * the number of workers at its start) and a `stop` while the handover is being confirmed.
 */
const admission = (now: Phase, command: Command, pid: number): Admission => {
  switch (now._tag) {
    case "Idle":
      return Admission.Proceed()
    case "HandedOver":
      return answeredAfterHandover.has(command)
        ? Admission.Proceed()
        : Admission.Refused({
            reason: `start_server (pid:${pid}) has handed over to start_server (pid:${now.pid}), which serves now`,
            successor: now.pid
          })
    case "Upgrading":
    case "Committing":
      if (command === "scale") {
        return Admission.Refused({
          reason: "an upgrade is in progress; scale once it has completed",
          successor: undefined
        })
      }
      if (command === "stop" && now._tag === "Committing") {
        return Admission.Refused({
          reason: "a new supervisor is taking over at this moment; stop again",
          successor: undefined
        })
      }
      return Admission.Proceed()
  }
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
    /** The last number of workers a scale was admitted with (set in `phase`'s update: atomically). */
    let requestedWorkers: number | undefined

    const attempt = (
      service: Successor["Type"],
      request: UpgradeRequest,
      stop: Deferred.Deferred<void>,
      workers: number | undefined
    ) =>
      Effect.gen(function* () {
        const state = yield* supervisor.state
        const timeoutMs = request.timeoutMs ?? defaultReadyTimeoutMs
        yield* Effect.logInfo(`upgrading: starting ${request.binary ?? "start_server"} as the new supervisor`)
        // 1. launch
        const process = yield* Effect.mapError(
          service.launch({
            binary: request.binary,
            sockets,
            state: { generation: state.generation, workers: workers ?? state.config.workers }
          }),
          (e) => e.message
        )
        const failWith = (reason: string) => Effect.zipRight(process.abort, Effect.fail(reason))
        // This supervisor stopping meanwhile (its scope closes) ends the attempt: the new one is
        // stopped too, and waited for, before this one exits (a stop means the service stops).
        let relinquished = false
        let inCharge = false
        yield* Effect.addFinalizer((exit) =>
          Exit.isInterrupted(exit) && !inCharge
            ? Effect.all([
                Effect.logWarning("upgrade abandoned: start_server is stopping"),
                relinquished ? service.reclaim : Effect.void,
                process.abort
              ])
            : Effect.void
        )
        // 2. ready
        const ready = yield* Effect.catchAll(
          Effect.raceFirst(
            awaitReport(process, "Ready", timeoutMs, "ready"),
            Effect.zipRight(Deferred.await(stop), Effect.fail(stoppingReason))
          ),
          failWith
        )
        // 3. commit, unless this supervisor has moved on meanwhile: a TERM or a stop (admitted
        // stops are seen here atomically), or a rollout of its own (an auto-restart) whose
        // generation number the new one has taken too.
        const stopping = yield* Ref.modify(phase, (now): readonly [boolean, Phase] =>
          now._tag === "Upgrading" && !now.stopping
            ? [false, Phase.Committing({ held: now.held, done: now.done })]
            : [true, now]
        )
        const now = yield* supervisor.state
        if (stopping || Machine.isStopping(now)) yield* failWith(stoppingReason)
        if (now.epoch !== state.epoch) {
          yield* failWith(`a rollout began meanwhile (epoch ${now.epoch}); upgrade once it has completed`)
        }
        // From here this process writes none of the shared files, until it gets them back.
        yield* service.relinquish
        relinquished = true
        yield* process.commit
        yield* Effect.catchAll(awaitReport(process, "Committed", commitTimeoutMs, "in charge"), (reason) =>
          Effect.zipRight(service.reclaim, failWith(reason))
        )
        inCharge = true
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
          // Ended by this supervisor's own stop: nothing keeps serving, and the reply says so.
          const outcome: UpgradeOutcome =
            reason === stoppingReason ? UpgradeOutcome.Stopping() : UpgradeOutcome.Failed({ reason })
          return Effect.as(
            reason === stoppingReason
              ? Effect.void
              : Effect.logError(`upgrade failed: ${reason}; this supervisor keeps serving`),
            { outcome, hangUp: undefined }
          )
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
        const before = yield* Ref.getAndSet(phase, next)
        // Commands that waited for the handover's end are decided now, by `next`.
        if (before._tag === "Upgrading" || before._tag === "Committing") yield* Deferred.succeed(before.done, undefined)
        const held = before._tag === "Upgrading" || before._tag === "Committing" ? before.held : undefined
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
        case "Committing":
          return Effect.logInfo(`restart (${reason}) held until the upgrade in progress ends`)
      }
    }

    const upgrade = (request: UpgradeRequest) =>
      Effect.gen(function* () {
        if (Option.isNone(successor)) {
          return UpgradeOutcome.Failed({ reason: "this supervisor cannot start a new one (no Successor service)" })
        }
        const state = yield* supervisor.state
        const stop = yield* Deferred.make<void>()
        const done = yield* Deferred.make<void>()
        const [refused, workers] = yield* Ref.modify(phase, (now) => {
          const why = refusal(state, now._tag !== "Idle")
          return [
            // The number of workers a scale admitted before this asked for (the machine may not have it yet).
            [why, requestedWorkers] as const,
            why === undefined ? Phase.Upgrading({ held: undefined, stopping: false, stop, done }) : now
          ] as const
        })
        if (refused !== undefined) return refused
        return yield* Effect.flatMap(attempt(successor.value, request, stop, workers), settle)
      })

    const restart = (reason: RestartReason) =>
      Effect.flatMap(
        Ref.modify(phase, (now): readonly [Phase, Phase] => {
          switch (now._tag) {
            case "Upgrading":
              return [now, Phase.Upgrading({ ...now, held: reason })]
            case "Committing":
              return [now, Phase.Committing({ ...now, held: reason })]
            default:
              return [now, now]
          }
        }),
        (now) => passOn(now, reason)
      )

    const restartAndWait = (reason: RestartReason) =>
      Effect.flatMap(Ref.get(phase), (now): Effect.Effect<RestartOutcome> => {
        if (now._tag === "Idle") return supervisor.restartAndWait(reason)
        return Effect.map(supervisor.state, (state) => ({
          _tag: "Failed",
          epoch: state.epoch,
          reason:
            now._tag === "HandedOver"
              ? `this supervisor has handed over to start_server (pid:${now.pid}); restart that one`
              : "an upgrade is in progress; restart once it has completed"
        }))
      })

    const markStopping = (now: Phase): Phase =>
      now._tag === "Upgrading" ? Phase.Upgrading({ ...now, stopping: true }) : now
    /** The upgrade in progress (if any) ends now, once `markStopping` has made `before` stopping. */
    const endUpgrade = (before: Phase) =>
      before._tag === "Upgrading" ? Deferred.succeed(before.stop, undefined) : Effect.void

    const shutdown: Supervisor["shutdown"] = (signal, origin) =>
      Effect.gen(function* () {
        yield* Effect.flatMap(Ref.getAndUpdate(phase, markStopping), endUpgrade)
        yield* supervisor.shutdown(signal, origin)
      })

    const quiet = Effect.flatMap(Ref.get(phase), (now) =>
      now._tag === "Upgrading" || now._tag === "Committing" ? Deferred.await(now.done) : Effect.void
    )

    const admit = (command: Command) =>
      Effect.gen(function* () {
        // A handover being confirmed decides who answers: wait for its end (10 s at most).
        const now = yield* Ref.get(phase)
        if (now._tag === "Committing") yield* Deferred.await(now.done)
        const [decided, stopped] = yield* Ref.modify(phase, (now) => {
          const decided = admission(now, command, pid)
          // An admitted stop ends the upgrade in progress: it must not commit after this.
          const stops = command === "stop" && decided._tag === "Proceed"
          return [[decided, stops ? now : undefined] as const, stops ? markStopping(now) : now] as const
        })
        if (stopped !== undefined) yield* endUpgrade(stopped)
        return decided
      })

    const scale = (workers: number) =>
      Effect.gen(function* () {
        const now = yield* Ref.get(phase)
        if (now._tag === "Committing") yield* Deferred.await(now.done)
        const decided = yield* Ref.modify(phase, (now) => {
          const decided = admission(now, "scale", pid)
          // Decided and recorded at once: an upgrade that begins after this starts this many.
          if (decided._tag === "Proceed") requestedWorkers = workers
          return [decided, now] as const
        })
        if (decided._tag === "Proceed") yield* supervisor.scale(workers)
        return decided
      })

    return { upgrade, restart, restartAndWait, shutdown, quiet, admit, scale }
  })
