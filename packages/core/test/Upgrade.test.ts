import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Queue, TestClock } from "effect"
import * as Successor from "../src/Successor.js"
import * as Upgrade from "../src/Upgrade.js"
import { advance, config, layer, makeWorld, start, type World } from "./support/Simulation.js"

const inWorld = <A, E, R>(world: World, body: Effect.Effect<A, E, R>) => body.pipe(Effect.provide(layer(world)))

describe("HandOver (the old supervisor after `start_server upgrade`)", () => {
  it.scoped(
    "retires every worker as a restart does (--signal-on-hup after --kill-old-delay), starts none, exits 0",
    () => {
      const world = makeWorld()
      return inWorld(
        world,
        Effect.gen(function* () {
          const sup = yield* start(
            config({ workers: 2, killOldDelayMs: 2000, signalOnHup: { signal: "USR1", label: "USR1" } })
          )
          yield* advance(1000)
          yield* sup.handOver
          yield* advance(1999)
          expect(world.processes.map((p) => p.received)).toEqual([[], []])
          yield* advance(1)
          expect(world.processes.map((p) => p.received)).toEqual([["USR1"], ["USR1"]])
          // Once signalled, they exit; nothing replaces them, and the supervisor is done.
          expect(world.processes.length).toBe(2)
          expect(yield* sup.exitCode).toBe(0)
          expect(world.logs).toContain(
            "the new supervisor is serving, sending USR1 to this supervisor's workers:1000,1001"
          )
        })
      )
    }
  )

  it.scoped("a supervisor that takes over continues the generations", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config({ generationBase: 7 }))
        expect(world.processes.map((p) => p.generation)).toEqual([8])
      })
    )
  })
})

describe("Successor reports", () => {
  it("round-trip through their lines; anything else fails the upgrade", () => {
    const ready = Successor.Report.Ready({ pid: 42, version: "1.2.3", generation: 5 })
    expect(Successor.parseReport(Successor.encodeReport(ready))).toEqual(ready)
    const failed = Successor.Report.Failed({ reason: "no" })
    expect(Successor.parseReport(Successor.encodeReport(failed))).toEqual(failed)
    expect(Successor.parseReport("committed")._tag).toBe("Committed")
    expect(Successor.parseReport("ready {")).toEqual(
      Successor.Report.Failed({ reason: 'unexpected report from the new supervisor: "ready {"' })
    )
  })
})

/** Until the old supervisor has told the new one to commit. */
const untilCommit = (did: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    while (!did.includes("commit")) yield* Effect.yieldNow()
  })

/** A fake new supervisor whose reports the test sends; it records what the old one did. */
const fakeSuccessor = (reports: Queue.Queue<Successor.Report>, did: Array<string>) =>
  Layer.succeed(
    Successor.Successor,
    Successor.Successor.of({
      launch: () =>
        Effect.succeed({
          pid: 99,
          next: Queue.take(reports),
          commit: Effect.sync(() => void did.push("commit")),
          abort: Effect.sync(() => void did.push("abort")),
          hangUp: Effect.sync(() => void did.push("hangUp"))
        }),
      relinquish: Effect.sync(() => void did.push("relinquish")),
      reclaim: Effect.sync(() => void did.push("reclaim")),
      closeControl: Effect.sync(() => void did.push("closeControl"))
    })
  )

const upgrading = (
  script: (
    reports: Queue.Queue<Successor.Report>,
    upgrades: Upgrade.Upgrades,
    world: World,
    did: ReadonlyArray<string>
  ) => Effect.Effect<void>,
  request: Upgrade.UpgradeRequest = {}
) =>
  Effect.gen(function* () {
    const world = makeWorld()
    const reports = yield* Queue.unbounded<Successor.Report>()
    const did: Array<string> = []
    return yield* inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config())
        yield* advance(1000)
        const upgrades = yield* Upgrade.make(sup, [], 1)
        const fiber = yield* Effect.fork(upgrades.upgrade(request))
        // Until it waits for the new supervisor's first report: the upgrade is under way.
        yield* Effect.yieldNow()
        yield* script(reports, upgrades, world, did)
        const outcome = yield* Fiber.join(fiber)
        return { outcome, did, world, sup, upgrades }
      }).pipe(Effect.provide(fakeSuccessor(reports, did)))
    )
  })

describe("Upgrade, step by step", () => {
  it.scoped("ready, commit, committed: the old supervisor hands over and retires its workers", () =>
    Effect.gen(function* () {
      const { outcome, did, world, sup } = yield* upgrading((reports) =>
        Effect.gen(function* () {
          yield* Queue.offer(reports, Successor.Report.Ready({ pid: 99, version: "2", generation: 2 }))
          yield* Queue.offer(reports, Successor.Report.Committed())
        })
      )
      expect(outcome).toEqual(
        Upgrade.UpgradeOutcome.Completed({ pid: 99, previousPid: 1, version: "2", generation: 2 })
      )
      expect(did).toEqual(["relinquish", "commit", "closeControl"])
      yield* advance(0)
      expect(world.processes[0]!.received).toEqual(["TERM"])
      expect(yield* sup.exitCode).toBe(0)
    })
  )

  it.scoped("it exits before it is ready: stopped, nothing relinquished, the workers keep serving", () =>
    Effect.gen(function* () {
      const { outcome, did, world } = yield* upgrading((reports) =>
        Queue.offer(reports, Successor.Report.Exited({ description: "exited with status 3" }))
      )
      expect(outcome).toEqual(
        Upgrade.UpgradeOutcome.Failed({ reason: "the new supervisor exited with status 3 before it was ready" })
      )
      expect(did).toEqual(["abort"])
      expect(world.processes[0]!.received).toEqual([])
    })
  )

  it.scoped("not ready within the timeout: stopped", () =>
    Effect.gen(function* () {
      const { outcome, did } = yield* upgrading(() => TestClock.adjust(5000), { timeoutMs: 5000 })
      expect(outcome).toEqual(
        Upgrade.UpgradeOutcome.Failed({ reason: "the new supervisor (pid 99) was not ready within 5 s" })
      )
      expect(did).toEqual(["abort"])
    })
  )

  it.scoped("no confirmation after commit: the old supervisor takes its files back", () =>
    Effect.gen(function* () {
      const { outcome, did, world } = yield* upgrading((reports) =>
        Effect.gen(function* () {
          yield* Queue.offer(reports, Successor.Report.Ready({ pid: 99, version: "2", generation: 2 }))
          yield* TestClock.adjust(Upgrade.commitTimeoutMs)
        })
      )
      expect(outcome._tag).toBe("Failed")
      expect(did).toEqual(["relinquish", "commit", "reclaim", "abort"])
      expect(world.processes[0]!.received).toEqual([])
    })
  )

  it.scoped("a HUP during an upgrade that completes goes to the new supervisor, not to a generation here", () =>
    Effect.gen(function* () {
      const { outcome, did, world, upgrades } = yield* upgrading((reports, upgrades) =>
        Effect.gen(function* () {
          yield* upgrades.restart("hup")
          yield* Queue.offer(reports, Successor.Report.Ready({ pid: 99, version: "2", generation: 2 }))
          yield* Queue.offer(reports, Successor.Report.Committed())
        })
      )
      expect(outcome._tag).toBe("Completed")
      expect(did).toEqual(["relinquish", "commit", "closeControl", "hangUp"])
      // Generation 2 is the new supervisor's: this one started none.
      expect(world.processes.map((p) => p.generation)).toEqual([1])
      expect(world.logs).toContain("restart (hup) held until the upgrade in progress ends")
      expect(world.logs).toContain("passing the restart (hup) on to start_server (pid:99), which serves now")
      // And so does any restart asked of this one afterwards; one waited for is refused.
      yield* upgrades.restart("hup")
      expect(did.filter((d) => d === "hangUp")).toHaveLength(2)
      expect(yield* upgrades.restartAndWait("control")).toEqual({
        _tag: "Failed",
        epoch: 1,
        reason: "this supervisor has handed over to start_server (pid:99); restart that one"
      })
    })
  )

  it.scoped("a HUP during an upgrade that fails restarts here once it has failed; one waited for is refused", () =>
    Effect.gen(function* () {
      const { outcome, did, world } = yield* upgrading((reports, upgrades, world) =>
        Effect.gen(function* () {
          yield* upgrades.restart("hup")
          expect(yield* upgrades.restartAndWait("control")).toEqual({
            _tag: "Failed",
            epoch: 1,
            reason: "an upgrade is in progress; restart once it has completed"
          })
          // Nothing started while the new supervisor might still take generation 2.
          expect(world.processes.map((p) => p.generation)).toEqual([1])
          yield* Queue.offer(reports, Successor.Report.Exited({ description: "exited with status 3" }))
        })
      )
      expect(outcome._tag).toBe("Failed")
      expect(did).toEqual(["abort"])
      yield* advance(0)
      expect(world.processes.map((p) => p.generation)).toEqual([1, 2])
    })
  )

  it.scoped("refused during a rollout", () =>
    Effect.gen(function* () {
      const world = makeWorld()
      const reports = yield* Queue.unbounded<Successor.Report>()
      const outcome = yield* inWorld(
        world,
        Effect.gen(function* () {
          const sup = yield* start(config())
          const upgrades = yield* Upgrade.make(sup, [], 1)
          return yield* upgrades.upgrade({})
        }).pipe(Effect.provide(fakeSuccessor(reports, [])))
      )
      expect(outcome).toEqual(
        Upgrade.UpgradeOutcome.Busy({ reason: "a rollout is in progress (epoch 1); upgrade once it has completed" })
      )
    })
  )
})

describe("Control commands around an upgrade: carried out here, or refused saying whom to ask", () => {
  it.scoped("after the handover every command but the log's is refused, naming the new supervisor", () =>
    Effect.gen(function* () {
      const { upgrades } = yield* upgrading((reports) =>
        Effect.gen(function* () {
          yield* Queue.offer(reports, Successor.Report.Ready({ pid: 99, version: "2", generation: 2 }))
          yield* Queue.offer(reports, Successor.Report.Committed())
        })
      )
      const refused = Upgrade.Admission.Refused({
        reason: "start_server (pid:1) has handed over to start_server (pid:99), which serves now",
        successor: 99
      })
      for (const command of ["status", "stop", "scale", "restart", "signal", "subscribe", "upgrade"] as const) {
        expect(yield* upgrades.admit(command)).toEqual(refused)
      }
      expect(yield* upgrades.admit("logs")).toEqual(Upgrade.Admission.Proceed())
    })
  )

  it.scoped(
    "a stop admitted before the commit ends the upgrade: the new supervisor is stopped, never told to commit",
    () =>
      Effect.gen(function* () {
        const { outcome, did } = yield* upgrading((reports, upgrades) =>
          Effect.gen(function* () {
            expect(yield* upgrades.admit("stop")).toEqual(Upgrade.Admission.Proceed())
            // The machine has not acted on it yet: the upgrade must see it all the same.
            yield* Queue.offer(reports, Successor.Report.Ready({ pid: 99, version: "2", generation: 2 }))
          })
        )
        expect(outcome).toEqual(Upgrade.UpgradeOutcome.Stopping())
        expect(did).toEqual(["abort"])
      })
  )

  it.scoped("a TERM during an upgrade ends it at once: the new supervisor is stopped before this one's exit", () =>
    Effect.gen(function* () {
      const { outcome, did, upgrades, sup } = yield* upgrading((_reports, upgrades) =>
        Effect.gen(function* () {
          yield* upgrades.shutdown("TERM")
          // No report, no timeout: the stop alone ends it.
        })
      )
      expect(outcome).toEqual(Upgrade.UpgradeOutcome.Stopping())
      expect(did).toEqual(["abort"])
      yield* upgrades.quiet
      yield* advance(0)
      expect(yield* sup.exitCode).toBe(0)
    })
  )

  it.scoped("scale is refused while an upgrade is in progress (the new supervisor got the number at its start)", () =>
    Effect.gen(function* () {
      yield* upgrading((reports, upgrades) =>
        Effect.gen(function* () {
          expect(yield* upgrades.admit("scale")).toEqual(
            Upgrade.Admission.Refused({
              reason: "an upgrade is in progress; scale once it has completed",
              successor: undefined
            })
          )
          expect(yield* upgrades.admit("status")).toEqual(Upgrade.Admission.Proceed())
          yield* Queue.offer(reports, Successor.Report.Exited({ description: "exited with status 3" }))
        })
      )
    })
  )

  it.scoped("a scale admitted just before an upgrade begins is what the new supervisor starts with", () =>
    Effect.gen(function* () {
      const world = makeWorld()
      const reports = yield* Queue.unbounded<Successor.Report>()
      const launched: Array<number> = []
      const successor = Layer.succeed(
        Successor.Successor,
        Successor.Successor.of({
          launch: (request) =>
            Effect.sync(() => {
              launched.push(request.state.workers)
              return {
                pid: 99,
                next: Queue.take(reports),
                commit: Effect.void,
                abort: Effect.void,
                hangUp: Effect.void
              }
            }),
          relinquish: Effect.void,
          reclaim: Effect.void,
          closeControl: Effect.void
        })
      )
      yield* inWorld(
        world,
        Effect.gen(function* () {
          const sup = yield* start(config())
          yield* advance(1000)
          const upgrades = yield* Upgrade.make(sup, [], 1)
          // The new supervisor's report is there already: the upgrade runs to its end without a
          // turn for the machine, which has not applied the scale when the upgrade begins.
          yield* Queue.offer(reports, Successor.Report.Exited({ description: "exited with status 3" }))
          expect(yield* upgrades.scale(3)).toEqual(Upgrade.Admission.Proceed())
          expect((yield* upgrades.upgrade({}))._tag).toBe("Failed")
          expect(launched).toEqual([3])
          // And one asked while an upgrade is in progress is refused.
          const fiber = yield* Effect.fork(upgrades.upgrade({}))
          yield* Effect.yieldNow()
          expect(yield* upgrades.scale(4)).toEqual(
            Upgrade.Admission.Refused({
              reason: "an upgrade is in progress; scale once it has completed",
              successor: undefined
            })
          )
          yield* Queue.offer(reports, Successor.Report.Exited({ description: "exited with status 3" }))
          yield* Fiber.join(fiber)
        }).pipe(Effect.provide(successor))
      )
      expect(launched).toEqual([3, 3])
    })
  )

  it.scoped("a command during the commit waits for its outcome: refused once the new supervisor confirmed", () =>
    Effect.gen(function* () {
      const { upgrades } = yield* upgrading((reports, upgrades, _world, did) =>
        Effect.gen(function* () {
          yield* Queue.offer(reports, Successor.Report.Ready({ pid: 99, version: "2", generation: 2 }))
          // Told to commit: a status asked now waits.
          yield* untilCommit(did)
          const asked = yield* Effect.fork(upgrades.admit("status"))
          yield* Effect.yieldNow()
          expect(asked.unsafePoll()).toBe(null)
          yield* Queue.offer(reports, Successor.Report.Committed())
          expect((yield* Fiber.join(asked))._tag).toBe("Refused")
        })
      )
      expect((yield* upgrades.admit("status"))._tag).toBe("Refused")
    })
  )

  it.scoped("… and carried out here once the commit failed", () =>
    Effect.gen(function* () {
      yield* upgrading((reports, upgrades, _world, did) =>
        Effect.gen(function* () {
          yield* Queue.offer(reports, Successor.Report.Ready({ pid: 99, version: "2", generation: 2 }))
          yield* untilCommit(did)
          const asked = yield* Effect.fork(upgrades.admit("stop"))
          yield* Effect.yieldNow()
          expect(asked.unsafePoll()).toBe(null)
          yield* Queue.offer(reports, Successor.Report.Failed({ reason: "no" }))
          expect(yield* Fiber.join(asked)).toEqual(Upgrade.Admission.Proceed())
        })
      )
    })
  )
})
