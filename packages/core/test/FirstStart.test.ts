/** What a daemon's foreground waits for: the first generation serving, or why not. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as FirstStart from "../src/FirstStart.js"
import { advance, config, layer, makeWorld, start, type World } from "./support/Simulation.js"

const inWorld = <A, E, R>(world: World, body: Effect.Effect<A, E, R>) => body.pipe(Effect.provide(layer(world)))

describe("FirstStart.outcome", () => {
  it.scoped("Serving once the first worker passes its alive check, not before", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config())
        const waiting = yield* Effect.fork(FirstStart.outcome(sup))
        yield* advance(999)
        expect(yield* Fiber.poll(waiting)).toEqual(expect.objectContaining({ _tag: "None" }))
        yield* advance(1)
        expect(yield* Fiber.join(waiting)).toEqual(FirstStart.Outcome.Serving())
        // Asked later: at once.
        expect(yield* FirstStart.outcome(sup)).toEqual(FirstStart.Outcome.Serving())
      })
    )
  })

  it.scoped("Retrying with the reason when a first worker fails and the supervisor keeps trying", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        world.plan.push("exit-at-once")
        const sup = yield* start(config())
        const waiting = yield* Effect.fork(FirstStart.outcome(sup))
        yield* advance(1000)
        expect(yield* Fiber.join(waiting)).toEqual(
          FirstStart.Outcome.Retrying({ reason: "exited with code 3 before it was ready" })
        )
      })
    )
  })

  it.scoped("Exited with the one line when the program cannot run, even if that was decided before asking", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        world.plan.push("exec-fails")
        const sup = yield* start(config())
        expect(yield* FirstStart.outcome(sup)).toEqual(
          FirstStart.Outcome.Exited({
            exitCode: 127,
            message: "failed to exec worker:No such file or directory (not retrying: no worker has started yet)"
          })
        )
      })
    )
  })

  it.scoped("Exited when the supervisor gives up (--max-start-attempts) or is stopped first", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        world.plan.push("exit-at-once")
        const sup = yield* start(config({ maxStartAttempts: 1 }))
        const waiting = yield* Effect.fork(FirstStart.outcome(sup))
        yield* advance(1000)
        expect(yield* Fiber.join(waiting)).toEqual(
          FirstStart.Outcome.Exited({
            exitCode: 1,
            message:
              "start_server exited with code 1 before any worker served (last failure: exited with code 3 before it was ready)"
          })
        )
        const stopped = yield* start(config())
        yield* stopped.shutdown("TERM")
        yield* advance(0)
        expect(yield* FirstStart.outcome(stopped)).toMatchObject({ _tag: "Exited", exitCode: 0 })
      })
    )
  })
})
