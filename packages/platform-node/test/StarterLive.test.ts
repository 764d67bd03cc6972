/**
 * The supervisor embedded in an Effect program: a real worker, a restart through the
 * service, and the lifecycle events observed on the way.
 */
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { type Lifecycle, Starter, StarterOptions } from "@starter/core"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { StarterLive } from "../src/StarterLive.js"

const worker = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../examples/http-worker.mjs")

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const get = (port: number) =>
  Effect.promise(
    () =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port, agent: false }, (res) => {
            let body = ""
            res.on("data", (c: Buffer) => {
              body += c.toString()
            })
            res.on("end", () => resolve(body))
          })
          .on("error", reject)
      })
  )

describe("StarterLive", () => {
  it.scopedLive("runs a real worker, restarts it through the service and reports the events", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(freePort)
      const options = StarterOptions.StarterOptions.make({
        command: [process.execPath, worker],
        ports: [`127.0.0.1:${port}`],
        intervalMs: 300
      })
      yield* Effect.gen(function* () {
        const starter = yield* Starter.Starter
        // Generation 1 is up once it has been alive for the interval.
        yield* Effect.repeat(starter.status, {
          until: (status) => status.state === "serving",
          schedule: Schedule.spaced("20 millis")
        })
        const events = yield* starter.events.pipe(
          Stream.takeUntil((e: Lifecycle.Lifecycle) => e._tag === "WorkerExited"),
          Stream.runCollect,
          Effect.fork
        )
        yield* Effect.sleep("50 millis") // let the subscription start
        const first = yield* starter.status
        expect(first.workers.length).toBe(1)
        expect(yield* get(port)).toBe(`hello from generation 1, pid ${first.workers[0]!.pid}\n`)

        const outcome = yield* starter.restartAndWait("control")
        expect(outcome).toEqual({ _tag: "Ready", epoch: 2, generation: 2 })
        // Ready means the old worker was told to go, not that it is gone: until it has exited
        // it may still take a connection (the events end with its exit).
        const seen = Chunk.toArray(yield* Fiber.join(events)).map((e) => e._tag)
        const second = yield* starter.status
        expect(yield* get(port)).toBe(
          `hello from generation 2, pid ${second.workers.find((w) => w.generation === 2)!.pid}\n`
        )

        expect(seen).toEqual([
          "RolloutStarted",
          "WorkerSpawned",
          "WorkerReady",
          "WorkerSignalled",
          "RolloutCompleted",
          "WorkerExited"
        ])
      }).pipe(Effect.provide(StarterLive(options)))
    })
  )

  it.effect("rejects options that do not make sense, with a typed error", () =>
    Effect.gen(function* () {
      const options = StarterOptions.StarterOptions.make({ command: ["true"], ports: ["not-a-port"] })
      const error = yield* Effect.flip(Effect.provide(Starter.Starter, StarterLive(options)))
      expect(error).toEqual(new StarterOptions.InvalidOptions({ message: "invalid ``port'' value:not-a-port" }))
    })
  )
})
