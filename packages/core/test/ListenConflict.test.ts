/**
 * An unmodified app that calls listen(PORT) itself meets EADDRINUSE (start_server holds the
 * port) and exits at once, for ever. Two such exits in a row name the likely cause in one line.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ExitStatus } from "../src/ExitStatus.js"
import { Readiness } from "../src/Readiness.js"
import { advance, config, layer, makeWorld, start, type World } from "./support/Simulation.js"

const inWorld = <A, E, R>(world: World, body: Effect.Effect<A, E, R>) => body.pipe(Effect.provide(layer(world)))

const hints = (world: World) => world.logs.filter((l) => l.includes("EADDRINUSE"))

/**
 * The newest process exits `afterMs` after it started, with `status`, its output having said
 * EADDRINUSE or not (`undefined`: not read); then the interval passes.
 */
const newestExits = (world: World, afterMs: number, status: ExitStatus, said?: boolean) =>
  Effect.gen(function* () {
    yield* advance(afterMs)
    const newest = world.processes.at(-1)!
    newest.saidAddressInUse = said
    yield* newest.exit(status)
    yield* advance(1000)
  })

const clean = { code: 0, signal: null } as const

describe("a worker that exits as an app meeting EADDRINUSE does", () => {
  it.scoped("two quick exits with status 0 while start_server holds the port: one line, once per release", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        const sup = yield* start(config(), ["3000"])
        yield* newestExits(world, 200, clean)
        expect(hints(world)).toEqual([])
        // Spawned at the first one's alive check (1 s), gone 0.5 s later.
        yield* newestExits(world, 300, clean, false)
        expect(hints(world)).toEqual([
          "worker 1001 exited with status:0 0.5 s after it started, as did the one before: likely its own listen() on port 3000 failed with EADDRINUSE, as start_server holds it; start it as `node --import @starter/worker/register app.js` to listen on the inherited socket (or have it read SERVER_STARTER_PORT)"
        ])
        yield* newestExits(world, 200, clean)
        yield* newestExits(world, 200, clean)
        expect(hints(world).length).toBe(1)
        // A new release may have been fixed, or not: it is told again.
        world.plan.push("healthy")
        yield* sup.restart("hup")
        yield* newestExits(world, 200, clean)
        yield* newestExits(world, 200, clean)
        expect(hints(world).length).toBe(2)
      })
    )
  })

  it.scoped("status 1 with output that said EADDRINUSE: the cause, at the first exit", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config(), ["127.0.0.1:3000"])
        yield* newestExits(world, 200, { code: 1, signal: null }, true)
        expect(hints(world)).toEqual([
          "worker 1000 exited with status:256 0.2 s after it started, saying EADDRINUSE: its own listen() on 127.0.0.1:3000 failed with EADDRINUSE, as start_server holds it; start it as `node --import @starter/worker/register app.js` to listen on the inherited socket (or have it read SERVER_STARTER_PORT)"
        ])
      })
    )
  })

  it.scoped.each([
    ["status 1 without output that says so (a crash at start)", ["3000"], { code: 1, signal: null }, 200],
    ["no port or path is held", [] as ReadonlyArray<string>, clean, 200],
    ["the status is another (3)", ["3000"], { code: 3, signal: null }, 200],
    ["a signal ended it", ["3000"], { code: null, signal: "KILL" }, 200],
    ["it lived 5 s or more", ["3000"], clean, 5000]
  ] as const)("no line when %s", ([, listening, status, afterMs]) => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config({ crashWindowMs: 0 }), listening)
        for (let i = 0; i < 3; i++) yield* newestExits(world, afterMs, status)
        expect(world.processes.length).toBe(4)
        expect(hints(world)).toEqual([])
      })
    )
  })

  it.scoped("no line when another kind of exit comes between two quick ones", () => {
    const world = makeWorld()
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config(), ["/run/app.sock"])
        yield* newestExits(world, 200, clean)
        yield* newestExits(world, 200, { code: 2, signal: null })
        yield* newestExits(world, 200, clean)
        expect(hints(world)).toEqual([])
        yield* newestExits(world, 200, clean)
        expect(hints(world)[0]).toContain("likely its own listen() on /run/app.sock failed with EADDRINUSE")
      })
    )
  })

  it.scoped("no line for workers that said ready on their channel, however soon they exit", () => {
    const world = makeWorld()
    world.readyAfterMs = 50
    return inWorld(
      world,
      Effect.gen(function* () {
        yield* start(config({ readiness: Readiness.NotifyFd(), crashWindowMs: 0 }), ["3000"])
        for (let i = 0; i < 3; i++) yield* newestExits(world, 200, clean)
        expect(world.processes.length).toBe(4)
        expect(hints(world)).toEqual([])
      })
    )
  })
})
