/**
 * Runs the state machine against the ports: one fiber takes events in order, steps the
 * machine and performs its actions. Processes, files and time are all behind ports, so the
 * same code runs the real binary and the simulation tests (with TestClock).
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import type { Action } from "./Action.js"
import * as Agenda from "./Agenda.js"
import { Event, type RestartReason, type ShutdownOrigin } from "./Event.js"
import type * as FdLayout from "./FdLayout.js"
import * as Lifecycle from "./Lifecycle.js"
import * as Machine from "./Machine.js"
import { ProcessSpawner, type WorkerProcess } from "./ProcessSpawner.js"
import * as Readiness from "./Readiness.js"
import type { SignalName } from "./Signal.js"
import * as StatusSnapshot from "./StatusSnapshot.js"
import { StatusStore } from "./StatusStore.js"
import type { SupervisorConfig } from "./SupervisorConfig.js"
import * as Tunables from "./Tunables.js"
import { WorkerEnvironment } from "./WorkerEnvironment.js"
import * as WorkerLaunch from "./WorkerLaunch.js"

/** How a requested restart ended, as `--restart` and the control socket report it. */
export type RestartOutcome =
  | { readonly _tag: "Ready"; readonly epoch: number; readonly generation: number }
  | { readonly _tag: "Failed"; readonly epoch: number; readonly reason: string }
  | { readonly _tag: "Superseded"; readonly epoch: number; readonly by: number }
  | { readonly _tag: "ShuttingDown" }

export interface Supervisor {
  readonly restart: (reason: RestartReason) => Effect.Effect<void>
  /** Requests a restart and waits for the rollout that carries it to end. */
  readonly restartAndWait: (reason: RestartReason) => Effect.Effect<RestartOutcome>
  /** `origin`: who asked, when no signal was received (the log says so). */
  readonly shutdown: (signal: "TERM" | "INT", origin?: ShutdownOrigin) => Effect.Effect<void>
  /** The machine's current state (workers, generation, epoch). */
  readonly state: Effect.Effect<Machine.State>
  /** The state for people and machines, with the most recent worker exits. */
  readonly status: Effect.Effect<StatusSnapshot.StatusSnapshot>
  /** Changes the number of workers per generation. */
  readonly scale: (workers: number) => Effect.Effect<void>
  /** Sends `signal` to every worker (control socket `signal`). */
  readonly signalWorkers: (signal: SignalName) => Effect.Effect<number>
  /**
   * A new supervisor serves now (`start_server upgrade`): every worker retires as in a
   * restart, none is started again, and `exitCode` completes (0) once they are gone.
   */
  readonly handOver: Effect.Effect<void>
  /** SIGALRM: wakes the loop as it wakes Perl's (the envdir is re-read); nothing else happens. */
  readonly alarm: Effect.Effect<void>
  /** Lifecycle events from the moment of subscription; it ends after the supervisor's last one. */
  readonly events: Stream.Stream<Lifecycle.Lifecycle>
  /**
   * A subscription that holds every event from the moment this completes, for as long as the
   * scope is open: nothing is missed between subscribing and reading. The stream ends after
   * the supervisor's last event (once `exitCode` completes), so a reader knows it has them all.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<Lifecycle.Lifecycle>, never, Scope.Scope>
  /** Completes with the exit code once every worker is gone after a shutdown. */
  readonly exitCode: Effect.Effect<number>
}

const logLevels = { info: LogLevel.Info, warn: LogLevel.Warning, error: LogLevel.Error } as const

/** How long closing the supervisor's scope waits for workers before killing them. */
export const scopeCloseGraceMs = 10_000

export const make = (
  config: SupervisorConfig,
  sockets: FdLayout.FdLayout
): Effect.Effect<Supervisor, never, Scope.Scope | ProcessSpawner | StatusStore | WorkerEnvironment> =>
  Effect.gen(function* () {
    const spawner = yield* ProcessSpawner
    const status = yield* StatusStore
    const environment = yield* WorkerEnvironment
    const inbox = yield* Queue.unbounded<Event>()
    // Each event, then the end once the supervisor has exited: a reader drains up to it.
    const pubsub = yield* PubSub.unbounded<Take.Take<Lifecycle.Lifecycle>>()
    const fibers = yield* FiberSet.make()
    const stateRef = yield* Ref.make(Machine.initial(config, sockets.listening))
    const exitCode = yield* Deferred.make<number>()
    const processes = new Map<number, WorkerProcess>()

    const spawn = (id: number, generation: number, index: number): Effect.Effect<Event> =>
      Effect.gen(function* () {
        const base = yield* environment.current
        const state = yield* Ref.get(stateRef)
        const result = yield* Effect.either(
          spawner.spawn(WorkerLaunch.request(state, sockets, base, { generation, index }))
        )
        if (result._tag === "Left") {
          const { message, exitCode, reason, unexecutable } = result.left
          return Event.SpawnFailed({ id, message, exitCode, reason: reason ?? message, unexecutable })
        }
        const worker = result.right
        processes.set(id, worker)
        yield* FiberSet.run(
          fibers,
          Effect.flatMap(worker.exit, (status) =>
            Effect.zipRight(
              Effect.sync(() => processes.delete(id)),
              Effect.flatMap(worker.saidAddressInUse ?? Effect.succeed(undefined), (saidAddressInUse) =>
                Queue.offer(inbox, Event.Exited({ id, status, saidAddressInUse }))
              )
            )
          )
        )
        if (!Readiness.isInterval(config.readiness)) {
          // A probe keeps probing until it succeeds: it must end when the worker does.
          const ready = Effect.raceFirst(Effect.as(worker.ready, true), Effect.as(worker.exit, false))
          yield* FiberSet.run(
            fibers,
            Effect.flatMap(ready, (isReady) => (isReady ? Queue.offer(inbox, Event.Ready({ id })) : Effect.void))
          )
        }
        return Event.Spawned({ id, pid: worker.pid })
      })

    /** A readiness deadline carries what the worker's channel knows about why it is not ready. */
    const withDetail = (event: Event): Effect.Effect<Event> => {
      if (event._tag !== "ReadyDeadline") return Effect.succeed(event)
      const worker = processes.get(event.id)
      if (worker === undefined) return Effect.succeed(event)
      return Effect.map(worker.readinessDetail, (detail) => Event.ReadyDeadline({ id: event.id, detail }))
    }

    const agenda = yield* Agenda.make((event: Event) => Effect.flatMap(withDetail(event), (e) => Queue.offer(inbox, e)))

    /** Performs one action; a spawn answers with the event that must be stepped next. */
    const perform = (action: Action): Effect.Effect<Event | undefined> => {
      switch (action._tag) {
        case "Spawn":
          return spawn(action.id, action.generation, action.index)
        case "Signal":
          return Effect.as(processes.get(action.id)?.signal(action.signal) ?? Effect.void, undefined)
        case "Log": {
          const log = Effect.logWithLevel(logLevels[action.level], action.message)
          return Effect.as(
            action.worker === undefined
              ? log
              : Effect.annotateLogs(log, {
                  worker_pid: action.worker.pid,
                  generation: action.worker.generation
                }),
            undefined
          )
        }
        case "WriteStatus":
          // A full disk must not take the supervisor down: log and keep serving.
          return Effect.as(
            Effect.catchAll(status.write(action.content), (e) => Effect.logError(e.message)),
            undefined
          )
        case "Schedule":
          return Effect.as(agenda.schedule(action.delayMs, action.event), undefined)
        case "Publish":
          return Effect.as(PubSub.publish(pubsub, Take.of(action.event)), undefined)
        case "Exit":
          // The machine publishes nothing after its exit: the end follows the last event.
          return Effect.as(
            Effect.zipRight(Deferred.succeed(exitCode, action.code), PubSub.publish(pubsub, Take.end)),
            undefined
          )
      }
    }

    /**
     * Whether Perl's main loop would wake up for this (Starter.pm L341-347), and so re-read its
     * envdir: a worker reaped there (not one that failed its start: start_worker reaps that
     * one and retries with the same environment), a signal (HUP, TERM, INT, ALRM; restarts and
     * stops asked through the control socket stand for them), its alarm. An auto-restart is
     * only ever decided in such a wake. Readiness, timers and scaling are not Perl's events.
     */
    const wakesPerl = (event: Event, state: Machine.State): boolean => {
      switch (event._tag) {
        case "Exited":
          return state.workers.find((w) => w.id === event.id)?.phase !== "starting"
        case "RestartRequested":
        case "ShutdownRequested":
        case "AutoRestartDue":
        case "Alarm":
          return true
        default:
          return false
      }
    }

    /** Re-reads the envdir as Perl's loop does; a change of its tunables is an event of its own. */
    const reload = (state: Machine.State): Effect.Effect<Event | undefined> =>
      Effect.map(environment.reload, (env) => {
        if (!config.reloadTunables) return undefined
        const tunables = Tunables.fromEnvironment(env)
        return Tunables.equals(tunables, state.config) ? undefined : Event.TunablesChanged({ tunables })
      })

    /** Steps one event, then any events its actions answer with, before taking the next. */
    const handle = (first: Event): Effect.Effect<void> =>
      Effect.gen(function* () {
        const before = yield* Ref.get(stateRef)
        const changed = wakesPerl(first, before) ? yield* reload(before) : undefined
        const pending: Array<Event> = changed === undefined ? [first] : [changed, first]
        for (let event = pending.shift(); event !== undefined; event = pending.shift()) {
          const now = yield* Clock.currentTimeMillis
          const random = yield* Random.next
          const { state, actions } = Machine.step(yield* Ref.get(stateRef), event, { now, random })
          yield* Ref.set(stateRef, state)
          for (const action of actions) {
            const answer = yield* perform(action)
            if (answer !== undefined) pending.push(answer)
          }
        }
      })

    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(inbox), handle)))
    // Perl's loop sets alarm(1) while auto-restart is on (as it was at startup): with an
    // envdir, it re-reads it every second.
    if (config.reloadTunables && config.autoRestart !== undefined) {
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(1000), Queue.offer(inbox, Event.Alarm()))))
    }
    // Closing the scope (an embedding application stopping) stops the workers first, as a
    // TERM would; this runs before the loop above is interrupted (finalizers run in reverse).
    // A scope must close, so workers still alive after the grace period are killed.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Queue.offer(inbox, Event.ShutdownRequested({ signal: "TERM", origin: "scope" }))
        const grace = config.killTimeoutMs ?? scopeCloseGraceMs
        // Finalizers are uninterruptible: the wait must be made interruptible for the timeout.
        const exited = Effect.interruptible(Deferred.await(exitCode))
        if (Option.isSome(yield* Effect.timeoutOption(exited, grace))) return
        yield* Effect.forEach(processes.values(), (p) => p.signal("KILL"), { discard: true })
        yield* Deferred.await(exitCode)
      })
    )
    yield* Queue.offer(inbox, Event.Boot())

    const subscribe = Effect.gen(function* () {
      const subscription = yield* PubSub.subscribe(pubsub)
      // Exited already: the end may have gone out before this subscribed, and nothing follows
      // what it holds now.
      const source = (yield* Deferred.isDone(exitCode))
        ? Stream.fromChunk(yield* Queue.takeAll(subscription))
        : Stream.fromQueue(subscription)
      return Stream.flattenTake(source)
    })

    const restartAndWait = (reason: RestartReason): Effect.Effect<RestartOutcome> =>
      Effect.scoped(
        Effect.gen(function* () {
          // Subscribe first, so the answer to our own request cannot be missed.
          const events = yield* subscribe
          yield* Queue.offer(inbox, Event.RestartRequested({ reason }))
          let target: number | undefined
          const outcomes = Stream.filterMap(events, (event): Option.Option<RestartOutcome> => {
            switch (event._tag) {
              case "RolloutStarted":
              case "RestartQueued":
                if (target === undefined && event.reason === reason) target = event.epoch
                return Option.none()
              case "RolloutCompleted":
                return target !== undefined && event.epoch >= target
                  ? Option.some({ _tag: "Ready", epoch: event.epoch, generation: event.generation })
                  : Option.none()
              case "RolloutAbandoned":
                return event.epoch === target
                  ? Option.some({ _tag: "Failed", epoch: event.epoch, reason: Lifecycle.explainFailure(event.failure) })
                  : Option.none()
              case "RolloutSuperseded":
                return event.epoch === target
                  ? Option.some({ _tag: "Superseded", epoch: event.epoch, by: event.by })
                  : Option.none()
              case "ShutdownStarted":
                return Option.some({ _tag: "ShuttingDown" })
              default:
                return Option.none()
            }
          })
          // The events end only after a shutdown, whose start answers first.
          return Option.getOrElse(yield* Stream.runHead(outcomes), (): RestartOutcome => ({ _tag: "ShuttingDown" }))
        })
      )

    return {
      restart: (reason) => Queue.offer(inbox, Event.RestartRequested({ reason })),
      restartAndWait,
      shutdown: (signal, origin) => Queue.offer(inbox, Event.ShutdownRequested({ signal, origin })),
      state: Ref.get(stateRef),
      status: Effect.zipWith(Ref.get(stateRef), Clock.currentTimeMillis, (state, now) =>
        StatusSnapshot.fromState(state, now)
      ),
      scale: (workers) => Queue.offer(inbox, Event.Scale({ workers })),
      handOver: Queue.offer(inbox, Event.HandOver()),
      alarm: Queue.offer(inbox, Event.Alarm()),
      signalWorkers: (signal) =>
        Effect.as(
          Effect.forEach(processes.values(), (p) => p.signal(signal), { discard: true }),
          processes.size
        ),
      events: Stream.unwrapScoped(subscribe),
      subscribe,
      exitCode: Deferred.await(exitCode)
    } satisfies Supervisor
  })
