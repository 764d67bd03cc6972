/**
 * A program that cannot be executed at all (ENOENT, EACCES: the platform says so): not retried
 * where no retry can help. At the first start the supervisor exits (127, 126) with one line; in
 * a restart the restart fails at once and the old generation keeps serving; replacing a crashed
 * worker, it is a failed start retried as in Perl.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { Readiness } from "../src/Readiness.js"
import { advance, config, layer, makeWorld, start, type World } from "./support/Simulation.js"

const inWorld = <A, E, R>(world: World, body: Effect.Effect<A, E, R>) => body.pipe(Effect.provide(layer(world)))

describe("a program that cannot be executed, at the first start", () => {
  it.scoped.each([
    [
      "exec-fails",
      127,
      "failed to exec worker:No such file or directory",
      "exec failed: worker: No such file or directory"
    ],
    ["exec-denied", 126, "failed to exec worker:Permission denied", "exec failed: worker: Permission denied"]
  ] as const)("%s: one line, exit %d, nothing retried", ([fate, code, line, reason]) => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        world.plan.push(fate)
        const sup = yield* start(config())
        expect(yield* sup.exitCode).toBe(code)
        expect(world.logs).toEqual([`${line} (not retrying: no worker has started yet)`])
        const status = yield* sup.status
        expect(status.lastRestart).toMatchObject({ outcome: "failed", failedStarts: 1, lastFailure: reason })
        yield* advance(60_000)
        expect(world.processes).toEqual([])
        expect(world.statusWrites).toEqual([])
      })
    )
  })

  it.scoped.each([
    ["after --interval", config({ workers: 3 })],
    ["with a readiness channel", config({ workers: 3, readiness: Readiness.NotifyFd() })]
  ] as const)("--workers=3 %s: still one line", ([, cfg]) => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        world.plan.push("exec-fails", "exec-fails", "exec-fails")
        const sup = yield* start(cfg)
        expect(yield* sup.exitCode).toBe(127)
        expect(world.logs).toEqual([
          "failed to exec worker:No such file or directory (not retrying: no worker has started yet)"
        ])
      })
    )
  })

  it.scoped("a worker of the same rollout that did start is stopped before the exit", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        world.plan.push("healthy", "exec-fails")
        const sup = yield* start(config({ workers: 2 }))
        expect(world.processes[0]!.received).toEqual(["TERM"])
        expect(yield* sup.exitCode).toBe(127)
      })
    )
  })

  it.scoped("a failure a retry may fix (no file descriptors) is retried, as in Perl", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        world.plan.push("no-fds")
        const sup = yield* start(config())
        yield* advance(1000)
        expect(world.logs).toContain("new worker seems to have failed to start, exit status:65280")
        expect((yield* sup.status).lastRestart).toMatchObject({
          outcome: "in-progress",
          lastFailure: "exec failed: worker: Too many open files"
        })
        expect(world.processes.length).toBe(1)
        yield* advance(1000)
        expect((yield* sup.state).mode._tag).toBe("Serving")
      })
    )
  })
})

describe("a program that cannot be executed, after the first start", () => {
  it.scoped("a restart fails at once with the reason; the old generation keeps serving", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config())
        yield* advance(1000)
        const events: Array<string> = []
        yield* Effect.forkScoped(Stream.runForEach(sup.events, (e) => Effect.sync(() => events.push(e._tag))))
        yield* advance(0)
        world.plan.push("exec-fails")
        const outcome = yield* Effect.fork(sup.restartAndWait("control"))
        yield* advance(0)
        expect(yield* Fiber.join(outcome)).toEqual({
          _tag: "Failed",
          epoch: 2,
          reason: "exec failed: worker: No such file or directory"
        })
        expect(world.logs.slice(-2)).toEqual([
          "failed to exec worker:No such file or directory",
          "giving up the restart: exec failed: worker: No such file or directory; old workers keep serving:1000"
        ])
        expect(events).toEqual(["RolloutStarted", "StartFailed", "RolloutAbandoned"])
        const status = yield* sup.status
        expect(status.state).toBe("serving")
        expect(status.servingGeneration).toBe(1)
        expect(status.lastRestart).toMatchObject({
          outcome: "failed",
          lastFailure: "exec failed: worker: No such file or directory"
        })
        // Not retried: the next spawn is the next restart's.
        yield* advance(60_000)
        expect(world.processes.length).toBe(1)
        expect(world.processes[0]!.received).toEqual([])
        yield* sup.restart("hup")
        yield* advance(1000)
        expect(world.processes.length).toBe(2)
        expect(world.processes[0]!.received).toEqual(["TERM"])
      })
    )
  })

  it.scoped("with a readiness channel, too, and a restart queued meanwhile is dropped with it", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ readiness: Readiness.NotifyFd() }))
        yield* world.processes[0]!.becomeReady
        yield* advance(0)
        world.plan.push("exec-denied")
        const outcome = yield* Effect.fork(sup.restartAndWait("hup"))
        yield* advance(0)
        expect(yield* Fiber.join(outcome)).toMatchObject({
          _tag: "Failed",
          reason: "exec failed: worker: Permission denied"
        })
        expect((yield* sup.state).mode._tag).toBe("Serving")
        expect(world.processes[0]!.received).toEqual([])
      })
    )
  })

  it.scoped("a crashed worker whose program is gone is retried as in Perl: the file may come back", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ crashWindowMs: 0 }))
        yield* advance(1000)
        world.plan.push("exec-fails")
        yield* world.processes[0]!.exit({ code: null, signal: "KILL" })
        yield* advance(0)
        expect(world.logs.at(-1)).toBe("failed to exec worker:No such file or directory")
        yield* advance(1000)
        expect(world.logs).toContain("new worker seems to have failed to start, exit status:65280")
        expect(world.processes.length).toBe(2)
        yield* advance(1000)
        expect((yield* sup.status).servingGeneration).toBe(3)
      })
    )
  })
})
