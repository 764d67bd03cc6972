/**
 * Property tests of the real `Supervisor` in the simulated world (fake processes, TestClock):
 * generated schedules of restarts, crashes, failed and hung starts, scaling and a final
 * shutdown. The invariants are checked at the moment the supervisor acts (each spawn, signal
 * and reaped exit), not only when a test happens to look. fast-check is seeded and prints
 * the seed and the shrunk schedule of any failure.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, TestClock, TestContext } from "effect"
import fc from "fast-check"
import * as Machine from "../src/Machine.js"
import { Readiness } from "../src/Readiness.js"
import type * as Supervisor from "../src/Supervisor.js"
import * as SupervisorConfig from "../src/SupervisorConfig.js"
import { type Fate, layer, makeWorld, type Observation, start, type World } from "./support/Simulation.js"

type OpKind = "hup" | "crash" | "fail-next" | "hang-next" | "ignore-next" | "scale"

interface Op {
  readonly at: number
  readonly kind: OpKind
  readonly pick: number
}

interface Params {
  readonly workers: number
  readonly surge: number
  readonly readiness: "interval" | "notify-fd"
  readonly readyMs: number
  readonly exitMs: number
  readonly killOldDelayMs: number
  readonly killTimeoutMs: number
  readonly maxStartAttempts: number | undefined
  readonly autoRestartMs: number | undefined
  readonly seed: number
  readonly ops: ReadonlyArray<Op>
}

const fates: Partial<Record<OpKind, Fate>> = {
  "fail-next": "exit-at-once",
  "hang-next": "never-ready",
  "ignore-next": "ignores-stop"
}

const params = (kinds: ReadonlyArray<OpKind>, extra: { readonly giveUp: boolean }): fc.Arbitrary<Params> =>
  fc.record({
    workers: fc.constantFrom(1, 2, 4, 8),
    surge: fc.integer({ min: 1, max: 8 }),
    readiness: fc.constantFrom("interval" as const, "notify-fd" as const),
    readyMs: fc.integer({ min: 1, max: 3000 }),
    exitMs: fc.integer({ min: 0, max: 5000 }),
    killOldDelayMs: fc.constantFrom(0, 0, 500, 3000),
    killTimeoutMs: fc.integer({ min: 1000, max: 20_000 }),
    maxStartAttempts: extra.giveUp
      ? fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined })
      : fc.constant(undefined),
    autoRestartMs: fc.option(fc.integer({ min: 15_000, max: 60_000 }), { nil: undefined }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    ops: fc.array(
      fc.record({ at: fc.integer({ min: 0, max: 60_000 }), kind: fc.constantFrom(...kinds), pick: fc.nat() }),
      { maxLength: 30 }
    )
  })

const configOf = (p: Params) =>
  SupervisorConfig.make({
    argv: ["worker"],
    workers: p.workers,
    maxSurge: Math.min(p.surge, p.workers),
    readiness: p.readiness === "interval" ? Readiness.Interval() : Readiness.NotifyFd(),
    readyTimeoutMs: 5000,
    killOldDelayMs: p.killOldDelayMs,
    killTimeoutMs: p.killTimeoutMs,
    maxStartAttempts: p.maxStartAttempts,
    autoRestart: p.autoRestartMs === undefined ? undefined : { intervalMs: p.autoRestartMs }
  })

const isCurrent = (s: Machine.State) => (w: Machine.WorkerRecord) => w.epoch === s.epoch && w.phase !== "draining"
const outdated = (s: Machine.State) => s.workers.filter((w) => w.epoch < s.epoch && w.phase === "serving")
const serving = (s: Machine.State) => s.workers.filter((w) => w.phase === "serving")
const converged = (s: Machine.State) =>
  Machine.isRolledOut(s) &&
  s.workers.length === s.config.workers &&
  s.workers.every((w) => w.phase === "serving" && w.epoch === s.epoch)

/**
 * The invariants every observation must keep. `crashes`: whether the schedule kills serving
 * workers, which may leave fewer ready workers than retired ones for a while.
 */
const invariants = (world: World, sup: () => Supervisor.Supervisor | undefined, p: Params, crashes: boolean) => {
  let lastGeneration = 0
  let up = false
  return (o: Observation): Effect.Effect<void> =>
    Effect.gen(function* () {
      const supervisor = sup()
      if (supervisor === undefined) return
      const s = yield* supervisor.state
      if (o._tag === "Spawned") {
        // Generation numbers never decrease.
        expect(o.process.generation).toBeGreaterThanOrEqual(lastGeneration)
        lastGeneration = o.process.generation
        // While old workers serve, at most --max-surge new ones start at once.
        if (outdated(s).length > 0 && !Machine.isStopping(s)) {
          const starting = s.workers.filter((w) => w.epoch === s.epoch && w.phase === "starting")
          expect(starting.length).toBeLessThanOrEqual(Math.min(p.surge, s.config.workers))
        }
      }
      // Once up, never fewer than N ready workers unless one crashed. This is also what "an
      // old worker is signalled only once its replacement is ready" means: retiring one
      // early would leave N - 1 serving at the moment its signal is sent.
      if (Machine.isRolledOut(s)) up = true
      if (up && !crashes && !Machine.isStopping(s)) {
        expect(serving(s).length).toBeGreaterThanOrEqual(s.config.workers)
      }
      // Indexes are unique among the current epoch's live workers.
      const indexes = s.workers.filter(isCurrent(s)).map((w) => w.index)
      expect(new Set(indexes).size).toBe(indexes.length)
      if (o._tag === "Reaped") expect(world.processes.some((q) => q.pid === o.process.pid)).toBe(true)
    })
}

interface Outcome {
  readonly settled: Machine.State
  readonly finished: boolean
  readonly world: World
  readonly violations: ReadonlyArray<string>
}

/** Runs a schedule against the real Supervisor, settles, then shuts down with TERM. */
const simulate = (p: Params, crashes: boolean): Promise<Outcome> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const outer = yield* Scope.make()
      const outcome = yield* Effect.scoped(run(p, crashes, outer))
      yield* Scope.close(outer, Exit.void)
      return outcome
    }).pipe(Effect.provide(TestContext.TestContext))
  )

/**
 * One run. `outer` outlives the supervisor's scope: a supervisor that failed to shut down
 * would hold its scope's close on the (test) clock, so time keeps moving there until it ends.
 */
const run = (p: Params, crashes: boolean, outer: Scope.Scope): Effect.Effect<Outcome, never, Scope.Scope> => {
  const world = makeWorld(p.seed)
  world.readyAfterMs = p.readiness === "interval" ? undefined : p.readyMs
  world.exitAfterSignalMs = p.exitMs
  let supervisor: Supervisor.Supervisor | undefined
  // A broken invariant is recorded, not thrown: a defect inside the supervisor's own fiber
  // would stop the very machine under test and hide the first failure behind a hang.
  const violations: Array<string> = []
  const check = invariants(world, () => supervisor, p, crashes)
  world.observe = (o) =>
    Effect.catchAllDefect(check(o), (defect) =>
      Effect.sync(() => void violations.push(`${o._tag} ${o.process.pid}: ${String(defect)}`))
    )
  const program = Effect.gen(function* () {
    supervisor = yield* start(configOf(p))
    const sup = supervisor
    let now = 0
    for (const op of [...p.ops].sort((a, b) => a.at - b.at)) {
      yield* TestClock.adjust(op.at - now)
      now = op.at
      const fate = fates[op.kind]
      if (fate !== undefined) world.plan.push(fate)
      else if (op.kind === "hup") yield* sup.restart("hup")
      else if (op.kind === "scale") yield* sup.scale(1 + (op.pick % 8))
      else {
        const victims = serving(yield* sup.state)
        const victim = victims[op.pick % Math.max(1, victims.length)]
        const proc = world.processes.find((q) => q.pid === victim?.pid)
        if (proc !== undefined) yield* proc.exit({ code: null, signal: "KILL" })
      }
      yield* TestClock.adjust(0)
    }
    // Settle: until N workers of the newest release serve alone, or long enough for every
    // backoff (30 s at most), readiness timeout and drain to have played out.
    let settled = yield* sup.state
    for (let waited = 0; waited < 200_000 && !converged(settled); waited += 5_000) {
      yield* TestClock.adjust(5_000)
      settled = yield* sup.state
    }
    const exit = yield* Effect.fork(sup.exitCode)
    yield* sup.shutdown("TERM")
    // Every worker gets TERM, and KILL after --kill-timeout; nothing may outlive that.
    yield* TestClock.adjust(p.killTimeoutMs + 1)
    const done = yield* Fiber.poll(exit)
    yield* Effect.forkIn(Effect.forever(Effect.zipRight(TestClock.adjust(1000), Effect.yieldNow())), outer)
    return { settled, finished: done._tag === "Some" && Exit.isSuccess(done.value), world, violations }
  })
  return Effect.provide(program, layer(world))
}

const checkShutdown = ({ finished, world, violations }: Outcome) => {
  expect(violations).toEqual([])
  expect(finished).toBe(true)
  // Every process spawned has exited and been collected by the supervisor.
  expect(world.processes.filter((q) => !world.reaped.has(q.pid)).map((q) => q.pid)).toEqual([])
}

const seed = 20261201
// Each run drives the real supervisor through minutes of simulated time: about 0.2 s of CPU.

describe("rolling restarts (property, real Supervisor)", () => {
  it("keeps N workers serving through restarts, failed, hung and stubborn starts, and shuts down in time", async () => {
    await fc.assert(
      fc.asyncProperty(params(["hup", "fail-next", "hang-next", "ignore-next"], { giveUp: true }), async (p) => {
        checkShutdown(await simulate(p, false))
      }),
      { numRuns: 60, seed, interruptAfterTimeLimit: 100_000, markInterruptAsFailure: true }
    )
  }, 120_000)

  it("converges on N ready workers of the newest release once the faults stop, crashes and scaling included", async () => {
    await fc.assert(
      fc.asyncProperty(
        params(["hup", "crash", "fail-next", "hang-next", "ignore-next", "scale"], { giveUp: false }),
        async (p) => {
          // No auto-restart here: it would keep a rollout going at any moment one looks.
          const outcome = await simulate({ ...p, autoRestartMs: undefined }, true)
          const s = outcome.settled
          expect(s.mode._tag).toBe("Serving")
          expect(s.workers.map((w) => [w.phase, w.epoch])).toEqual(
            Array.from({ length: s.config.workers }, () => ["serving", s.epoch])
          )
          checkShutdown(outcome)
        }
      ),
      { numRuns: 60, seed, interruptAfterTimeLimit: 100_000, markInterruptAsFailure: true }
    )
  }, 120_000)
})
