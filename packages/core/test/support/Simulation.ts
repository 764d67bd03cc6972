/**
 * A simulated world for the supervisor: fake processes that exit, crash, become ready or
 * ignore signals on command, a recording status store, and captured log lines. Time is
 * Effect's TestClock, so a test advances it explicitly and never sleeps.
 */
import { Deferred, Effect, Layer, Logger, Random, type Scope, TestClock } from "effect"
import type { ExitStatus } from "../../src/ExitStatus.js"
import * as FdLayout from "../../src/FdLayout.js"
import { ProcessSpawner, SpawnError, type SpawnRequest } from "../../src/ProcessSpawner.js"
import type { SignalName } from "../../src/Signal.js"
import { StatusStore } from "../../src/StatusStore.js"
import * as Supervisor from "../../src/Supervisor.js"
import * as SupervisorConfig from "../../src/SupervisorConfig.js"
import { WorkerEnvironment } from "../../src/WorkerEnvironment.js"

/** What a fake process does when it receives a signal. */
export type OnSignal = "exit" | "ignore"

/** The fate of one spawn: "never-ready" stays silent on its readiness channel. */
export type Fate = "exit-at-once" | "exec-fails" | "exec-denied" | "no-fds" | "never-ready" | "ignores-stop" | "healthy"

/** What the world saw the supervisor do, for invariants checked at the moment it happens. */
export type Observation =
  | { readonly _tag: "Spawned"; readonly process: FakeProcess }
  | { readonly _tag: "Signalled"; readonly process: FakeProcess; readonly signal: SignalName }
  | { readonly _tag: "Reaped"; readonly process: FakeProcess }

export interface FakeProcess {
  readonly pid: number
  readonly request: SpawnRequest
  readonly generation: number
  readonly index: number
  readonly received: Array<SignalName>
  readonly exit: (status: ExitStatus) => Effect.Effect<void>
  readonly becomeReady: Effect.Effect<void>
  readonly isRunning: Effect.Effect<boolean>
  /** What its output said of EADDRINUSE (`undefined`: output not read, the default). */
  saidAddressInUse: boolean | undefined
}

export interface World {
  /** Seeds the Random the supervisor draws its backoff jitter from. */
  readonly seed: number
  readonly processes: Array<FakeProcess>
  readonly statusWrites: Array<string>
  readonly logs: Array<string>
  /** Decides the fate of the next spawns, in order; an empty plan means "healthy". */
  readonly plan: Array<Fate>
  onSignal: OnSignal
  /** How long a process that obeys a stop signal takes to exit (KILL is always at once). */
  exitAfterSignalMs: number
  /** Pids whose exit the supervisor has collected. */
  readonly reaped: Set<number>
  /** Called as each observation happens, inside the supervisor's own fiber. */
  observe: (observation: Observation) => Effect.Effect<void>
  /** Fake processes that report readiness by themselves this long after spawn (channel modes). */
  readyAfterMs: number | undefined
  /** What every fake process's readiness channel says about why it is not ready. */
  readinessDetail: string | undefined
  /** The worker environment (an envdir would change it between events). */
  readonly environment: Record<string, string>
}

export const makeWorld = (seed = 20261201): World => ({
  seed,
  processes: [],
  statusWrites: [],
  logs: [],
  plan: [],
  onSignal: "exit",
  exitAfterSignalMs: 0,
  reaped: new Set(),
  observe: () => Effect.void,
  readyAfterMs: undefined,
  readinessDetail: undefined,
  environment: { PATH: "/bin" }
})

const fakeSpawner = (world: World) =>
  ProcessSpawner.of({
    spawn: (request) =>
      Effect.gen(function* () {
        const fate = world.plan.shift() ?? "healthy"
        // The program is missing (no retry can help), or no fd is left (the next one may work).
        if (fate === "exec-fails") {
          return yield* new SpawnError({
            message: `failed to exec ${request.argv[0]}:No such file or directory`,
            exitCode: 255,
            reason: `exec failed: ${request.argv[0]}: No such file or directory`,
            unexecutable: "not-found"
          })
        }
        if (fate === "exec-denied") {
          return yield* new SpawnError({
            message: `failed to exec ${request.argv[0]}:Permission denied`,
            exitCode: 255,
            reason: `exec failed: ${request.argv[0]}: Permission denied`,
            unexecutable: "not-executable"
          })
        }
        if (fate === "no-fds") {
          return yield* new SpawnError({
            message: `failed to exec ${request.argv[0]}:Too many open files`,
            exitCode: 255,
            reason: `exec failed: ${request.argv[0]}: Too many open files`
          })
        }
        const exited = yield* Deferred.make<ExitStatus>()
        const ready = yield* Deferred.make<void>()
        const received: Array<SignalName> = []
        const proc: FakeProcess = {
          pid: 1000 + world.processes.length,
          request,
          generation: request.generation,
          index: request.index,
          received,
          exit: (status) => Effect.asVoid(Deferred.succeed(exited, status)),
          becomeReady: Effect.asVoid(Deferred.succeed(ready, undefined)),
          isRunning: Effect.map(Deferred.isDone(exited), (done) => !done),
          saidAddressInUse: undefined
        }
        world.processes.push(proc)
        yield* world.observe({ _tag: "Spawned", process: proc })
        if (fate === "exit-at-once") yield* proc.exit({ code: 3, signal: null })
        if (world.readyAfterMs !== undefined && fate !== "never-ready") {
          yield* Effect.forkDaemon(Effect.zipRight(Effect.sleep(world.readyAfterMs), proc.becomeReady))
        }
        return {
          pid: proc.pid,
          signal: (signal) =>
            Effect.suspend(() => {
              received.push(signal)
              const observed = world.observe({ _tag: "Signalled", process: proc, signal })
              if (signal === "KILL") return Effect.zipRight(observed, proc.exit({ code: null, signal }))
              if (world.onSignal === "ignore" || fate === "ignores-stop") return observed
              const exit = proc.exit({ code: null, signal })
              if (world.exitAfterSignalMs === 0) return Effect.zipRight(observed, exit)
              return Effect.zipRight(
                observed,
                Effect.asVoid(Effect.forkDaemon(Effect.zipRight(Effect.sleep(world.exitAfterSignalMs), exit)))
              )
            }),
          exit: Effect.tap(Deferred.await(exited), () =>
            Effect.suspend(() => {
              world.reaped.add(proc.pid)
              return world.observe({ _tag: "Reaped", process: proc })
            })
          ),
          ready: Deferred.await(ready),
          readinessDetail: Effect.sync(() => world.readinessDetail),
          saidAddressInUse: Effect.sync(() => proc.saidAddressInUse)
        }
      })
  })

/** The world's environment as the supervisor last read it: at its first spawn, then at each `reload`. */
const fakeEnvironment = (world: World) => {
  let read: Record<string, string> | undefined
  const reload = Effect.sync(() => {
    read = { ...world.environment }
    return read
  })
  return WorkerEnvironment.of({
    current: Effect.suspend(() => (read === undefined ? reload : Effect.succeed(read))),
    reload
  })
}

export const layer = (world: World) =>
  Layer.mergeAll(
    Layer.succeed(ProcessSpawner, fakeSpawner(world)),
    Layer.succeed(
      StatusStore,
      StatusStore.of({ write: (content) => Effect.sync(() => void world.statusWrites.push(content)) })
    ),
    Layer.sync(WorkerEnvironment, () => fakeEnvironment(world)),
    // The backoff jitter draws from Effect's Random: seeded, so every run of a test is the same run.
    Layer.setRandom(Random.make(world.seed)),
    Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ message }) => {
        world.logs.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
    )
  )

export const config = (overrides: Partial<SupervisorConfig.SupervisorConfig> = {}) =>
  SupervisorConfig.make({ argv: ["worker"], ...overrides })

const noSockets = FdLayout.layout([])

/**
 * Starts a supervisor in the simulated world; provide `layer(world)` around the test.
 * `listening`: the keys of the TCP ports and paths it holds (none are really bound).
 */
export const start = (
  cfg: SupervisorConfig.SupervisorConfig,
  listening: ReadonlyArray<string> = []
): Effect.Effect<Supervisor.Supervisor, never, Scope.Scope | ProcessSpawner | StatusStore | WorkerEnvironment> =>
  Effect.tap(Supervisor.make(cfg, { ...noSockets, listening }), () => TestClock.adjust(0))

export const advance = (ms: number) => TestClock.adjust(ms)

export const pids = (world: World, generation: number): Array<number> =>
  world.processes.filter((p) => p.generation === generation).map((p) => p.pid)
