import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Scope, Stream } from "effect"
import * as Machine from "../src/Machine.js"
import { Readiness } from "../src/Readiness.js"
import { advance, config, layer, makeWorld, pids, start, type World } from "./support/Simulation.js"

const inWorld = <A, E, R>(world: World, body: Effect.Effect<A, E, R>) => body.pipe(Effect.provide(layer(world)))

describe("Supervisor (Perl defaults: alive after --interval)", () => {
  it.scoped("starts generation 1 and lists it in the status file after the interval", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config())
        expect(world.processes.map((p) => p.generation)).toEqual([1])
        expect(world.processes[0]!.request.env.SERVER_STARTER_GENERATION).toBe("1")
        expect(world.statusWrites).toEqual([])
        yield* advance(999)
        expect(world.statusWrites).toEqual([])
        yield* advance(1)
        expect(world.statusWrites).toEqual(["1:1000\n"])
        expect(world.logs).toEqual(["starting new worker 1000"])
      })
    )
  })

  it.scoped("HUP: the new generation serves before the old one is signalled", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config())
        yield* advance(1000)
        yield* sup.restart("hup")
        yield* advance(0)
        expect(world.processes.map((p) => p.generation)).toEqual([1, 2])
        expect(world.processes[0]!.received).toEqual([])
        yield* advance(999)
        expect(world.processes[0]!.received).toEqual([])
        yield* advance(1)
        expect(world.processes[0]!.received).toEqual(["TERM"])
        expect(world.statusWrites).toEqual(["1:1000\n", "1:1000\n2:1001\n", "2:1001\n"])
        expect(world.logs).toEqual([
          "starting new worker 1000",
          "received HUP, spawning a new worker",
          "starting new worker 1001",
          "new worker is now running, sending TERM to old workers:1000",
          "killing old workers",
          "old worker 1000 died, status:15"
        ])
      })
    )
  })

  it.scoped("failed starts consume generations and retry once per interval; the old worker keeps serving", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config())
        yield* advance(1000)
        world.plan.push("exit-at-once", "exit-at-once")
        yield* sup.restart("hup")
        yield* advance(0)
        expect(pids(world, 2)).toEqual([1001])
        yield* advance(1000)
        expect(pids(world, 3)).toEqual([1002])
        expect(world.processes[0]!.received).toEqual([])
        yield* advance(1000)
        expect(pids(world, 4)).toEqual([1003])
        yield* advance(1000)
        expect(world.processes[0]!.received).toEqual(["TERM"])
        expect(world.statusWrites.at(-1)).toBe("4:1003\n")
        expect(world.logs).toContain("new worker 1001 seems to have failed to start, exit status:768")
        expect(world.logs).toContain("new worker 1002 seems to have failed to start, exit status:768")
      })
    )
  })

  it.scoped(
    "an exec failure a retry may fix is logged and retried at the interval, like Perl's exit(255) child",
    () => {
      const world = makeWorld()
      return inWorld(
        world,
        Effect.gen(function* () {
          world.plan.push("no-fds")
          yield* start(config())
          expect(world.processes).toEqual([])
          expect(world.logs).toEqual(["failed to exec worker:Too many open files"])
          yield* advance(1000)
          expect(world.logs).toContain("new worker seems to have failed to start, exit status:65280")
          expect(world.processes.map((p) => p.generation)).toEqual([2])
        })
      )
    }
  )

  it.scoped("a crashed worker is respawned at once in a new generation", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config({ crashWindowMs: 0 }))
        yield* advance(1000)
        yield* world.processes[0]!.exit({ code: null, signal: "KILL" })
        yield* advance(0)
        expect(world.logs).toContain("worker 1000 died unexpectedly with status:9, restarting")
        expect(pids(world, 2)).toEqual([1001])
        yield* advance(1000)
        expect(world.statusWrites.at(-1)).toBe("2:1001\n")
      })
    )
  })

  it.scoped("crashes are replaced at once until they come faster than a loop's rate; then respawns back off", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(
          config({
            intervalMs: 100,
            crashWindowMs: 10_000,
            crashLoopCrashes: 15,
            backoff: { initialMs: 1000, maxMs: 8000 }
          })
        )
        const crashLatest = Effect.gen(function* () {
          yield* advance(100) // the interval: it becomes ready
          yield* world.processes.at(-1)!.exit({ code: 1, signal: null })
          yield* advance(0)
        })
        // 15 crashes within 10 s: each is replaced at once.
        for (let i = 1; i <= 15; i++) {
          yield* crashLatest
          expect(world.processes.length).toBe(1 + i)
        }
        expect(world.logs.filter((l) => l.startsWith("crash loop"))).toEqual([])
        // The 16th and later: a loop, each respawn waiting longer.
        for (let i = 0; i < 4; i++) {
          yield* crashLatest
          const before = world.processes.length
          // jitter keeps each delay within [base/2, base]: nothing before base/2
          const base = Math.min(8000, 1000 * 2 ** i)
          expect(world.logs.at(-1)).toMatch(
            new RegExp(
              `^crash loop: ${16 + i} crashes in the last 10 s, ${i + 1} since it began; starting the next worker in \\d+ ms$`
            )
          )
          yield* advance(base / 2 - 1)
          expect(world.processes.length).toBe(before)
          yield* advance(base / 2 + 1)
          expect(world.processes.length).toBe(before + 1)
        }
      })
    )
  })

  it.scoped("a loop lasts while replacements die young, however long its backoffs; a survivor ends it", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const supervisor = yield* start(
          config({
            intervalMs: 100,
            crashWindowMs: 10_000,
            crashLoopCrashes: 15,
            backoff: { initialMs: 1000, maxMs: 16_000 }
          })
        )
        const crashLatest = Effect.gen(function* () {
          yield* advance(100)
          yield* world.processes.at(-1)!.exit({ code: 1, signal: null })
          yield* advance(0)
        })
        for (let i = 0; i < 16; i++) yield* crashLatest
        expect((yield* supervisor.status).crashLoop).toBe(true)
        // No worker serves while the respawn waits: the status says so rather than "serving".
        expect((yield* supervisor.status).state).toBe("crash-loop")
        expect((yield* supervisor.status).servingGeneration).toBeNull()
        // Backoffs of 8-16 s empty the window of older crashes: still a loop, never a burst.
        for (let i = 2; i <= 8; i++) {
          // Wait out the backoff until the replacement starts, then crash it as soon as it serves.
          const held = world.processes.length
          while (world.processes.length === held) yield* advance(100)
          const before = world.processes.length
          yield* crashLatest
          expect(world.processes.length).toBe(before) // held back, not respawned at once
          expect(world.logs.at(-1)).toMatch(new RegExp(`, ${i} since it began; starting the next worker in \\d+ ms$`))
        }
        // The next replacement outlives the window: the loop is over.
        yield* advance(16_000 + 100 + 10_000)
        expect((yield* supervisor.status).crashLoop).toBe(false)
        expect((yield* supervisor.status).state).toBe("serving")
      })
    )
  })

  it.scoped("a worker killed every second is always replaced at once: no loop", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config({ intervalMs: 100 }))
        for (let i = 1; i <= 60; i++) {
          yield* advance(1000)
          yield* world.processes.at(-1)!.exit({ code: null, signal: "KILL" })
          yield* advance(0)
          expect(world.processes.length).toBe(1 + i)
        }
        expect(world.logs.filter((l) => l.startsWith("crash loop"))).toEqual([])
      })
    )
  })

  it.scoped("HUPs during a rollout coalesce into one follow-up rollout", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config())
        yield* advance(1000)
        yield* sup.restart("hup")
        yield* advance(100)
        for (let i = 0; i < 50; i++) yield* sup.restart("hup")
        yield* advance(0)
        expect(world.processes.length).toBe(2) // the in-flight start is not cut short (Perl would accept it)
        yield* advance(900)
        // generation 2 is up; the queued restart starts generation 3 right away
        expect(world.processes.map((p) => p.generation)).toEqual([1, 2, 3])
        yield* advance(1000)
        expect(world.processes.length).toBe(3)
        expect(world.statusWrites.at(-1)).toBe("3:1002\n")
        expect(world.logs.filter((l) => l.includes("queueing one more")).length).toBe(50)
      })
    )
  })

  it.scoped("TERM during a restart stops the new and the old worker and exits 0", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ signalOnTerm: { signal: "USR1", label: "USR1" } }))
        yield* advance(1000)
        yield* sup.restart("hup")
        yield* advance(500)
        yield* sup.shutdown("TERM")
        yield* advance(0)
        expect(world.processes.map((p) => p.received)).toEqual([["USR1"], ["USR1"]])
        expect(yield* sup.exitCode).toBe(0)
        expect(world.logs).toContain("received TERM, sending USR1 to all workers:1000,1001")
        expect(world.logs.at(-1)).toBe("exiting")
        expect(world.statusWrites.at(-1)).toBe("")
      })
    )
  })

  it.scoped("INT always sends TERM, whatever --signal-on-term says", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ signalOnTerm: { signal: "USR1", label: "USR1" } }))
        yield* advance(1000)
        yield* sup.shutdown("INT")
        expect(yield* sup.exitCode).toBe(0)
        expect(world.processes[0]!.received).toEqual(["TERM"])
      })
    )
  })

  it.scoped("a subscription ends after the supervisor's last event; one taken after the exit ends at once", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config())
        yield* advance(1000)
        const collected = yield* Effect.fork(Stream.runCollect(yield* sup.subscribe))
        yield* sup.shutdown("TERM")
        expect(yield* sup.exitCode).toBe(0)
        const events = Chunk.toReadonlyArray(yield* Fiber.join(collected))
        expect(events.map((e) => e._tag)).toEqual(["ShutdownStarted", "WorkerSignalled", "WorkerExited"])
        expect(Chunk.size(yield* Stream.runCollect(yield* sup.subscribe))).toBe(0)
      })
    )
  })

  it.scoped("a worker that never exits blocks shutdown forever without --kill-timeout", () => {
    const world = makeWorld()
    world.onSignal = "ignore"
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config())
        yield* advance(1000)
        yield* sup.shutdown("TERM")
        yield* advance(3_600_000)
        expect((yield* sup.state).mode._tag).not.toBe("Finished")
        expect(world.processes[0]!.received).toEqual(["TERM"])
        yield* world.processes[0]!.exit({ code: 0, signal: null }) // let the test's scope close
      })
    )
  })

  it.scoped("--kill-timeout escalates to SIGKILL at shutdown", () => {
    const world = makeWorld()
    world.onSignal = "ignore"
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ killTimeoutMs: 5000 }))
        yield* advance(1000)
        yield* sup.shutdown("TERM")
        yield* advance(4999)
        expect(world.processes[0]!.received).toEqual(["TERM"])
        yield* advance(1)
        expect(world.processes[0]!.received).toEqual(["TERM", "KILL"])
        expect(yield* sup.exitCode).toBe(0)
        expect(world.logs).toContain("worker 1000 did not exit 5 secs after being signalled, sending KILL")
      })
    )
  })

  it.scoped("--kill-timeout also bounds old workers after a restart", () => {
    const world = makeWorld()
    world.onSignal = "ignore"
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ killTimeoutMs: 2000 }))
        yield* advance(1000)
        yield* sup.restart("hup")
        yield* advance(1000)
        expect(world.processes[0]!.received).toEqual(["TERM"])
        yield* advance(2000)
        expect(world.processes[0]!.received).toEqual(["TERM", "KILL"])
        expect(world.statusWrites.at(-1)).toBe("2:1001\n")
        world.onSignal = "exit" // so that closing the scope (no clock running) can stop 1001
      })
    )
  })

  it.scoped("--kill-old-delay waits before signalling old workers", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ killOldDelayMs: 5000 }))
        yield* advance(1000)
        yield* sup.restart("hup")
        yield* advance(1000)
        expect(world.logs.slice(-2)).toEqual([
          "new worker is now running, sending TERM to old workers:1000",
          "sleeping 5 secs before killing old workers"
        ])
        yield* advance(4999)
        expect(world.processes[0]!.received).toEqual([])
        yield* advance(1)
        expect(world.processes[0]!.received).toEqual(["TERM"])
      })
    )
  })

  it.scoped("--max-start-attempts gives up a restart and keeps the old worker", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ maxStartAttempts: 3 }))
        yield* advance(1000)
        world.plan.push("exit-at-once", "exit-at-once", "exit-at-once")
        yield* sup.restart("hup")
        yield* advance(3000)
        expect(world.processes.length).toBe(4)
        yield* advance(10_000)
        expect(world.processes.length).toBe(4)
        expect(world.processes[0]!.received).toEqual([])
        expect(world.logs).toContain("giving up the restart after 3 failed attempts; old workers keep serving:1000")
        // the next HUP tries again
        yield* sup.restart("hup")
        yield* advance(1000)
        expect(world.processes[0]!.received).toEqual(["TERM"])
      })
    )
  })
})

describe("Supervisor (--workers N)", () => {
  it.scoped("a rollout's workers share one generation; a failed start takes the next number", () => {
    const world = makeWorld()
    world.readyAfterMs = 100
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ workers: 4, maxSurge: 1, readiness: Readiness.NotifyFd() }))
        yield* advance(100)
        expect(world.processes.map((p) => p.generation)).toEqual([1, 1, 1, 1])
        world.plan.push("healthy", "exit-at-once")
        yield* sup.restart("hup")
        yield* advance(2000)
        // 2 for the first new worker, 3 after the failed one; the rollout goes on with 3.
        expect(world.processes.slice(4).map((p) => p.generation)).toEqual([2, 2, 3, 3, 3])
        const lines = world.statusWrites.at(-1)!.split("\n").filter(Boolean)
        expect(lines.map((l) => l.split(":")[0])).toEqual(["2", "3", "3", "3"])
      })
    )
  })

  it.scoped("scaling down and up again keeps --max-surge", () => {
    const world = makeWorld()
    world.readyAfterMs = 100
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ workers: 2, maxSurge: 2, readiness: Readiness.NotifyFd() }))
        yield* advance(100)
        yield* sup.scale(1)
        yield* advance(100)
        yield* sup.scale(2)
        yield* advance(100)
        const before = world.processes.length
        yield* sup.restart("hup")
        yield* advance(0)
        expect(world.processes.length - before).toBe(2) // both new workers start at once
      })
    )
  })

  it.scoped(
    "with readiness a restart gives up after 5 failed starts, keeps the old generation, and is not reported ready",
    () => {
      const world = makeWorld()
      return inWorld(
        world,
        Effect.gen(function* () {
          const sup = yield* start(config({ readiness: Readiness.NotifyFd() }))
          yield* world.processes[0]!.becomeReady
          yield* advance(0)
          const events: Array<string> = []
          yield* Effect.forkScoped(Stream.runForEach(sup.events, (e) => Effect.sync(() => events.push(e._tag))))
          yield* advance(0)
          world.plan.push("exit-at-once", "exit-at-once", "exit-at-once", "exit-at-once", "exit-at-once")
          const outcome = yield* Effect.fork(sup.restartAndWait("control"))
          yield* advance(60_000) // backoff between the attempts: 0.5-1, 1-2, 2-4, 4-8 s
          expect(yield* Fiber.join(outcome)).toEqual({
            _tag: "Failed",
            epoch: 2,
            reason: "exited with code 3 before it was ready"
          })
          expect(world.logs).toContain("giving up the restart after 5 failed attempts; old workers keep serving:1000")
          expect(events.filter((e) => e === "StartFailed").length).toBe(5)
          expect(events).toContain("RolloutAbandoned")
          expect(events).not.toContain("RolloutCompleted")
          expect(world.processes[0]!.received).toEqual([])
          expect(world.processes.length).toBe(6)
        })
      )
    }
  )
})

describe("Supervisor (status file)", () => {
  it.scoped("sorts generations as strings, as Perl's `sort keys` does (spec §15.15)", () => {
    const world = makeWorld()
    world.onSignal = "ignore" // old generations linger, so eleven are listed at once
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ intervalMs: 0 }))
        yield* advance(0)
        for (let hup = 0; hup < 10; hup++) {
          yield* sup.restart("hup")
          yield* advance(0)
        }
        const generations = world.statusWrites
          .at(-1)!
          .split("\n")
          .filter(Boolean)
          .map((l) => l.split(":")[0])
        expect(generations).toEqual(["1", "10", "11", "2", "3", "4", "5", "6", "7", "8", "9"])
        world.onSignal = "exit"
      })
    )
  })
})

describe("Supervisor (readiness channel)", () => {
  it.scoped("a worker is up when it reports ready, not after the interval", () => {
    const world = makeWorld()
    world.readyAfterMs = 100
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ readiness: Readiness.NotifyFd() }))
        yield* advance(100)
        expect(world.statusWrites).toEqual(["1:1000\n"])
        yield* sup.restart("hup")
        yield* advance(99)
        expect(world.processes[0]!.received).toEqual([])
        yield* advance(1)
        expect(world.processes[0]!.received).toEqual(["TERM"])
      })
    )
  })

  it.scoped("a worker that never becomes ready is stopped at the timeout and retried with backoff", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ readiness: Readiness.NotifyFd(), readyTimeoutMs: 5000 }))
        yield* world.processes[0]!.becomeReady
        yield* advance(0)
        yield* sup.restart("hup")
        yield* advance(5000)
        expect(world.processes[1]!.received).toEqual(["TERM"])
        expect(world.processes[0]!.received).toEqual([])
        expect(world.logs).toContain("new worker 1001 did not become ready within 5 secs, stopping it")
        // backoff: 1 s base, jittered into [0.5 s, 1 s]
        yield* advance(1000)
        expect(world.processes.length).toBe(3)
        yield* world.processes[2]!.becomeReady
        yield* advance(0)
        expect(world.processes[0]!.received).toEqual(["TERM"])
      })
    )
  })

  it.scoped("a timeout says what the channel last knew (a probe's error), in the log and the restart's outcome", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ readiness: Readiness.NotifyFd(), readyTimeoutMs: 2000, maxStartAttempts: 1 }))
        yield* world.processes[0]!.becomeReady
        yield* advance(0)
        world.readinessDetail = "tcp:127.0.0.1:9001: connect ECONNREFUSED 127.0.0.1:9001"
        const outcome = yield* Effect.fork(sup.restartAndWait("control"))
        yield* advance(2000)
        expect(world.logs).toContain(
          "new worker 1001 did not become ready within 2 secs (tcp:127.0.0.1:9001: connect ECONNREFUSED 127.0.0.1:9001), stopping it"
        )
        expect(yield* Fiber.join(outcome)).toEqual({
          _tag: "Failed",
          epoch: 2,
          reason: "not ready within 2s (tcp:127.0.0.1:9001: connect ECONNREFUSED 127.0.0.1:9001)"
        })
        expect(world.processes[0]!.received).toEqual([])
      })
    )
  })

  it.scoped(
    "status tells a ready restart, a retrying one and a failed one apart, with reasons and exits in words",
    () => {
      const world = makeWorld()
      return inWorld(
        world,
        Effect.gen(function* () {
          const sup = yield* start(
            config({ readiness: Readiness.NotifyFd(), readyTimeoutMs: 2000, maxStartAttempts: 2 })
          )
          yield* world.processes[0]!.becomeReady
          yield* advance(0)
          yield* sup.restart("hup")
          yield* advance(0)
          yield* world.processes[1]!.becomeReady
          yield* advance(0)
          const ready = yield* sup.status
          expect(ready.lastRestart).toMatchObject({ reason: "hup", outcome: "ready", generation: 2, failedStarts: 0 })
          expect(ready.servingGeneration).toBe(2)
          expect(ready.recentExits.map((e) => e.description)).toEqual(["killed by SIGTERM"])
          world.plan.push("exit-at-once")
          yield* sup.restart("control")
          yield* advance(0)
          const retrying = yield* sup.status
          expect(retrying.state).toBe("restarting")
          expect(retrying.lastRestart).toMatchObject({
            reason: "control",
            outcome: "in-progress",
            failedStarts: 1,
            lastFailure: "exited with code 3 before it was ready"
          })
          expect(retrying.recentExits.at(-1)?.description).toBe("exit code 3")
          yield* advance(60_000) // the second attempt never becomes ready: given up
          const failed = yield* sup.status
          expect(failed.lastRestart).toMatchObject({
            outcome: "failed",
            failedStarts: 2,
            lastFailure: "not ready within 2s"
          })
          expect(failed.lastRestart.endedAt).not.toBeNull()
          expect(failed.generation).toBe(4)
          expect(failed.servingGeneration).toBe(2)
          expect(failed.state).toBe("serving")
        })
      )
    }
  )

  it.scoped("giving up at boot stops the workers that did become ready, and exits 1", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        world.plan.push("healthy", "healthy", "never-ready", "never-ready")
        const sup = yield* start(
          config({
            workers: 3,
            maxSurge: 3,
            readiness: Readiness.NotifyFd(),
            readyTimeoutMs: 1000,
            maxStartAttempts: 2
          })
        )
        yield* world.processes[0]!.becomeReady
        yield* world.processes[1]!.becomeReady
        yield* advance(60_000)
        expect(world.processes.map((p) => p.received.length > 0)).toEqual([true, true, true, true])
        expect(yield* sup.exitCode).toBe(1)
      })
    )
  })

  it.scoped("a restart abandoned half-way leaves serving workers with unique indexes", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(
          config({
            workers: 2,
            maxSurge: 2,
            readiness: Readiness.NotifyFd(),
            readyTimeoutMs: 2000,
            maxStartAttempts: 1
          })
        )
        for (const p of world.processes) yield* p.becomeReady
        yield* advance(0)
        yield* sup.restart("control")
        yield* advance(0)
        // The new index 1 becomes ready, index 0 never does: the rollout is given up.
        yield* world.processes.find((p) => p.generation === 2 && p.index === 1)!.becomeReady
        yield* advance(2000)
        const serving = (yield* sup.state).workers.filter((w) => w.phase === "serving")
        expect(serving.map((w) => [w.generation, w.index]).sort()).toEqual([
          [1, 0],
          [2, 1]
        ])
      })
    )
  })

  it.scoped("a crash before ready is a failed start, reported at once", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config({ readiness: Readiness.Ipc() }))
        yield* world.processes[0]!.exit({ code: 2, signal: null })
        yield* advance(0)
        expect(world.logs).toContain("new worker 1000 seems to have failed to start, exit status:512")
      })
    )
  })
})

describe("Supervisor (embedded: closing its scope)", () => {
  it.effect("stops the workers like TERM, and kills the ones still alive after the grace period", () => {
    const world = makeWorld()
    world.onSignal = "ignore"
    return inWorld(
      world,
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        yield* Scope.extend(start(config()), scope)
        yield* advance(1000)
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* advance(0)
        expect(world.processes[0]!.received).toEqual(["TERM"])
        yield* advance(10_000)
        yield* Fiber.join(closing)
        expect(world.processes[0]!.received).toEqual(["TERM", "KILL"])
        expect(world.logs.at(-1)).toBe("exiting")
      })
    )
  })
})

describe("Supervisor (--enable-auto-restart)", () => {
  it.scoped("follows Perl's timeline (spec §15.7): interval 3 s, kill-old-delay 5 s", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config({ autoRestart: { intervalMs: 3000 }, killOldDelayMs: 5000 }))
        yield* advance(1000) // generation 1 passes its alive check: the auto-restart clock starts
        yield* advance(2999)
        expect(world.processes.length).toBe(1)
        yield* advance(1) // t=4 s
        expect(world.logs.at(-2)).toBe("autorestart triggered (interval=3)")
        expect(world.processes.length).toBe(2)
        yield* advance(1000) // t=5 s: generation 2 is up
        expect(world.logs.slice(-2)).toEqual([
          "new worker is now running, sending TERM to old workers:1000",
          "sleeping 5 secs before killing old workers"
        ])
        yield* advance(4999)
        expect(world.processes[0]!.received).toEqual([])
        yield* advance(1) // t=10 s: killed, and the next auto restart follows at once
        expect(world.processes[0]!.received).toEqual(["TERM"])
        expect(world.logs.slice(-3)).toEqual([
          "old worker 1000 died, status:15",
          "autorestart triggered (interval=3)",
          "starting new worker 1002"
        ])
      })
    )
  })

  it.scoped("forces a restart at twice the interval while old workers linger (spec §15.8)", () => {
    const world = makeWorld()
    world.onSignal = "ignore"
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config({ autoRestart: { intervalMs: 2000 } }))
        yield* advance(1000)
        yield* advance(2000) // t=3 s
        expect(world.logs).toContain("autorestart triggered (interval=2)")
        yield* advance(1000) // t=4 s: generation 2 up, generation 1 signalled but alive
        expect(world.processes[0]!.received).toEqual(["TERM"])
        yield* advance(3999)
        expect(world.logs.filter((l) => l.startsWith("autorestart")).length).toBe(1)
        yield* advance(1) // t=8 s = 4 s + 2 × interval
        expect(world.logs).toContain("autorestart triggered (forced, interval=2)")
        world.onSignal = "exit" // so that closing the scope (no clock running) can stop them
      })
    )
  })
})

describe("Supervisor (tunables from an envdir, re-read as Perl does)", () => {
  it.scoped("KILL_OLD_DELAY written at runtime applies to the next restart; removed, it no longer does", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ reloadTunables: true }))
        yield* advance(1000)
        world.environment.KILL_OLD_DELAY = "2"
        yield* sup.restart("hup")
        yield* advance(1000)
        expect(world.logs.slice(-1)).toEqual(["sleeping 2 secs before killing old workers"])
        yield* advance(2000)
        expect(world.processes[0]!.received).toEqual(["TERM"])
        delete world.environment.KILL_OLD_DELAY
        yield* sup.restart("hup")
        yield* advance(1000)
        expect(world.processes[1]!.received).toEqual(["TERM"])
        expect(world.logs.filter((l) => l.startsWith("sleeping")).length).toBe(1)
      })
    )
  })

  it.scoped("ENABLE_AUTO_RESTART turned on, shortened, then off", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ reloadTunables: true }))
        yield* advance(1000) // generation 1 up at t=1 s
        world.environment.ENABLE_AUTO_RESTART = "1"
        world.environment.AUTO_RESTART_INTERVAL = "10"
        world.environment.KILL_OLD_DELAY = "0"
        // Perl notices an envdir change when its loop wakes up: here, at a SIGALRM.
        yield* sup.alarm
        yield* advance(9999) // t=11 s - 1 ms
        expect(world.processes.length).toBe(1)
        yield* advance(1) // t=11 s: 10 s after generation 1 was up
        expect(world.logs).toContain("autorestart triggered (interval=10)")
        yield* advance(1000) // t=12 s: generation 2 up, the clock restarts
        world.environment.AUTO_RESTART_INTERVAL = "3"
        yield* sup.alarm
        yield* advance(3000) // t=15 s: 3 s after generation 2, not 10
        expect(world.logs.filter((l) => l.startsWith("autorestart")).length).toBe(2)
        yield* advance(1000)
        world.environment.ENABLE_AUTO_RESTART = "0"
        yield* sup.alarm
        yield* advance(60_000)
        expect(world.logs.filter((l) => l.startsWith("autorestart")).length).toBe(2)
      })
    )
  })

  it.scoped(
    "auto-restart on at startup: the envdir is re-read every second (Perl's alarm), with no other event",
    () => {
      const world = makeWorld()
      Object.assign(world.environment, { ENABLE_AUTO_RESTART: "1", AUTO_RESTART_INTERVAL: "360", KILL_OLD_DELAY: "0" })
      return inWorld(
        world,
        Effect.gen(function* () {
          yield* start(config({ reloadTunables: true, autoRestart: { intervalMs: 360_000 } }))
          yield* advance(1000) // generation 1 up at t=1 s
          world.environment.AUTO_RESTART_INTERVAL = "3"
          yield* advance(2999) // the alarm at t=2 s read it: 3 s after generation 1, not 360
          expect(world.logs.filter((l) => l.startsWith("autorestart"))).toEqual([])
          yield* advance(1)
          expect(world.logs).toContain("autorestart triggered (interval=3)")
        })
      )
    }
  )

  it.scoped("a change after a wake is not read before the next: not when the new worker passes its check", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config({ reloadTunables: true }))
        yield* advance(1000)
        yield* sup.restart("hup")
        yield* advance(0) // the HUP woke the loop: the envdir was read, generation 2 spawned
        world.environment.KILL_OLD_DELAY = "2"
        yield* advance(1000) // generation 2 passes its alive check: Perl's start_worker, no wake
        expect(world.processes[0]!.received).toEqual(["TERM"])
        expect(world.logs.filter((l) => l.startsWith("sleeping"))).toEqual([])
        yield* sup.restart("hup")
        yield* advance(1000)
        expect(world.logs.slice(-1)).toEqual(["sleeping 2 secs before killing old workers"])
      })
    )
  })

  it.scoped(
    "a crashed worker's replacement gets the envdir read at the crash; a failed start is retried with the same",
    () => {
      const world = makeWorld()
      world.environment.FOO = "1"
      return inWorld(
        world,
        Effect.gen(function* () {
          const sup = yield* start(config())
          yield* advance(1000)
          world.environment.FOO = "2"
          yield* world.processes[0]!.exit({ code: 1, signal: null }) // reaped in the loop: a wake
          yield* advance(0)
          expect(world.processes.map((p) => p.request.env.FOO)).toEqual(["1", "2"])
          yield* advance(1000)
          world.plan.push("exit-at-once")
          yield* sup.restart("hup")
          yield* advance(0)
          world.environment.FOO = "3" // Perl's start_worker retries without reading it
          yield* advance(1000)
          expect(world.processes.map((p) => p.request.env.FOO)).toEqual(["1", "2", "2", "2"])
        })
      )
    }
  )

  it.scoped("without reloadTunables the startup values stay, whatever the environment says", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config())
        yield* advance(1000)
        world.environment.KILL_OLD_DELAY = "2"
        yield* sup.restart("hup")
        yield* advance(1000)
        expect(world.processes[0]!.received).toEqual(["TERM"])
      })
    )
  })
})

describe("Supervisor (shutdown while a start is failing)", () => {
  it.scoped.each(["exits at once", "cannot be spawned for want of fds"])(
    "TERM exits although the new worker %s",
    (fate) => {
      const world = makeWorld()
      return inWorld(
        world,
        Effect.gen(function* () {
          world.plan.push(fate === "exits at once" ? "exit-at-once" : "no-fds")
          const sup = yield* start(config())
          yield* advance(500) // inside the interval: the failure is not reported yet
          yield* sup.shutdown("TERM")
          yield* advance(0)
          expect((yield* sup.state).mode._tag).toBe("Finished")
          expect(yield* sup.exitCode).toBe(0)
          expect(world.logs.at(-1)).toBe("exiting")
        })
      )
    }
  )
})

describe("Supervisor (--interval=0 and a start that keeps failing)", () => {
  it.scoped.each(["exits at once", "cannot be executed"])(
    "retries at most every minStartRetryMs, not in a loop, and TERM ends it (the worker %s)",
    (fate) => {
      const world = makeWorld()
      return inWorld(
        world,
        Effect.gen(function* () {
          for (let i = 0; i < 50; i++) world.plan.push(fate === "exits at once" ? "exit-at-once" : "exec-fails")
          const sup = yield* start(config({ intervalMs: 0 }))
          yield* advance(0)
          const failures = () => world.logs.filter((l) => l.includes("seems to have failed to start")).length
          expect(failures()).toBe(1)
          yield* advance(Machine.minStartRetryMs - 1)
          expect(failures()).toBe(1)
          yield* advance(1)
          expect(failures()).toBe(2)
          yield* sup.shutdown("TERM")
          yield* advance(0)
          expect((yield* sup.state).mode._tag).toBe("Finished")
          expect(yield* sup.exitCode).toBe(0)
        })
      )
    }
  )
})
