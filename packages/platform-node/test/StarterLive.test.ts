/**
 * The supervisor embedded in an Effect program: a real worker, a restart through the
 * service, the lifecycle events observed on the way, and the layer's scope closing. Invalid
 * options fail the layer, all of them the same way.
 */
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { type Lifecycle, Starter } from "@starter/core"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { InvalidOptions, StarterLive, type StarterOptions } from "../src/index.js"

const worker = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../examples/http-worker.mjs")

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Generation 1 is up once it has been alive for the interval. */
const serving = (starter: Starter.Starter["Type"]) =>
  Effect.repeat(starter.status, {
    until: (status) => status.state === "serving",
    schedule: Schedule.spaced("20 millis")
  })

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

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
      const options: StarterOptions = {
        command: [process.execPath, worker],
        ports: [`127.0.0.1:${port}`],
        interval: 300
      }
      yield* Effect.gen(function* () {
        const starter = yield* Starter.Starter
        yield* serving(starter)
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

  it.scopedLive("closing the layer's scope stops the workers, and says so: no TERM was received", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message }) => {
          lines.push(Array.isArray(message) ? message.join(" ") : String(message))
        })
      )
      const port = yield* Effect.promise(freePort)
      const options: StarterOptions = {
        command: [process.execPath, worker],
        ports: [`127.0.0.1:${port}`],
        interval: 300
      }
      // The layer lives while this effect runs; its scope closes when the effect ends.
      const pid = yield* Effect.gen(function* () {
        const starter = yield* Starter.Starter
        yield* serving(starter)
        return (yield* starter.status).workers[0]!.pid
      }).pipe(Effect.provide(StarterLive(options)), Effect.provide(capture))
      expect(lines.filter((line) => line.startsWith("received "))).toEqual([])
      expect(lines.slice(-3)).toEqual([
        `the supervisor's scope is closing, sending TERM to all workers:${pid}`,
        `worker ${pid} died, status:0`,
        "exiting"
      ])
      expect(isRunning(pid)).toBe(false)
    })
  )

  /** Options a program may pass (JavaScript, or TypeScript cast), each with the one error it gets. */
  const duration = `a duration expected, such as 500 (milliseconds), "5 seconds" or Duration.minutes(2)`
  const invalid: ReadonlyArray<readonly [string, Partial<StarterOptions>, string]> = [
    [
      "no command",
      { command: [] as unknown as [string] },
      'command: the program and its arguments expected, such as ["node", "server.mjs"]'
    ],
    ["workers 0", { workers: 0 }, "workers: Expected a number between 1 and 1024, actual 0"],
    ["a fractional max surge", { maxSurge: 1.5 }, "maxSurge: Expected an integer, actual 1.5"],
    ["a negative interval", { interval: -1 }, `interval: ${duration}`],
    ["a negative kill timeout", { killTimeout: -5 }, `killTimeout: ${duration}`],
    [
      "a kill timeout that is no duration",
      { killTimeout: "soon" as Duration.DurationInput },
      `killTimeout: ${duration}`
    ],
    ["a zero ready timeout", { readyTimeout: 0 }, "readyTimeout: Expected a positive number, actual 0"],
    ["a bad port", { ports: ["not-a-port"] }, "invalid ``port'' value:not-a-port"],
    ["a bad path mode", { pathMode: "999" }, "pathMode: an octal file mode such as 0660 expected"],
    [
      "a misspelt readiness",
      { readiness: "notfy-fd" as StarterOptions["readiness"] },
      "readiness: invalid --ready value:notfy-fd (expected none, notify-fd, ipc, sd-notify, tcp:HOST:PORT, unix:PATH or an http:// URL)"
    ],
    [
      "a probe without a port",
      { readiness: "tcp:127.0.0.1" },
      "readiness: --ready=tcp:127.0.0.1: expected tcp:HOST:PORT"
    ],
    ["an unknown signal number", { signalOnHup: "99" }, 'signalOnHup: Unrecognized signal name "99"'],
    [
      "a lower-case signal",
      { signalOnTerm: "term" as StarterOptions["signalOnTerm"] },
      "signalOnTerm: signal term: expected upper case, such as TERM, SIGTERM or 15"
    ]
  ]

  it.effect.each(invalid)("fails the layer with InvalidOptions: %s", ([, fields, message]) =>
    Effect.gen(function* () {
      const layer = StarterLive({ command: ["true"], ...fields })
      const error = yield* Effect.flip(Effect.provide(Starter.Starter, layer))
      // toEqual would not compare an error's message.
      expect(error).toBeInstanceOf(InvalidOptions)
      expect(error.message).toBe(message)
    })
  )
})
