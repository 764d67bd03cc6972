/**
 * What the compiler checks in the options an application writes: each `@ts-expect-error`
 * line fails `pnpm check` once its type is loosened. And what it lets through, the options
 * accept, while what it refuses they refuse too.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { optionsFromConfig, type StarterOptions, toStarterConfig, warnings } from "../src/StarterOptions.js"

const problem = (options: StarterOptions): string | undefined =>
  Either.match(toStarterConfig(options, 1), { onLeft: (error) => error.message, onRight: () => undefined })

describe("StarterOptions", () => {
  it("does not compile a misspelt readiness channel or signal", () => {
    const typos: ReadonlyArray<StarterOptions> = [
      // @ts-expect-error: a typo of notify-fd
      { command: ["server"], readiness: "notfy-fd" },
      // @ts-expect-error: a probe names its scheme (tcp:, unix:, http://)
      { command: ["server"], readiness: "127.0.0.1:8080" },
      // @ts-expect-error: no such signal
      { command: ["server"], signalOnHup: "HUPP" },
      // @ts-expect-error: signal names are upper case
      { command: ["server"], signalOnTerm: "term" }
    ]
    expect(typos.map(problem)).toEqual([
      "readiness: invalid --ready value:notfy-fd (expected none, notify-fd, ipc, sd-notify, tcp:HOST:PORT, unix:PATH or an http:// URL)",
      "readiness: invalid --ready value:127.0.0.1:8080 (expected none, notify-fd, ipc, sd-notify, tcp:HOST:PORT, unix:PATH or an http:// URL)",
      'signalOnHup: Unrecognized signal name "HUPP"',
      "signalOnTerm: signal term: expected upper case, such as TERM, SIGTERM or 15"
    ])
  })

  it("accepts every form the literal types admit", () => {
    const readiness: ReadonlyArray<StarterOptions["readiness"]> = [
      "none",
      "notify-fd",
      "ipc",
      "sd-notify",
      "tcp:127.0.0.1:9000",
      "tcp:[::1]:9000",
      "unix:/run/app/{pid}.sock",
      "http://127.0.0.1:9000/health",
      "https://localhost/health"
    ]
    const signals: ReadonlyArray<StarterOptions["signalOnHup"]> = ["TERM", "SIGUSR1", "IOT", "SIGCLD", "15"]
    expect(readiness.map((value) => problem({ command: ["server"], readiness: value }))).toEqual(
      readiness.map(() => undefined)
    )
    expect(signals.map((value) => problem({ command: ["server"], signalOnHup: value }))).toEqual(
      signals.map(() => undefined)
    )
  })

  it("fills in the defaults of the fields left out", () => {
    const config = Either.getOrThrow(toStarterConfig({ command: ["server", "--flag"] }, 42))
    expect(config.pid).toBe(42)
    expect(config.listen).toEqual([])
    expect(config.supervisor).toMatchObject({
      argv: ["server", "--flag"],
      workers: 1,
      intervalMs: 1000,
      readiness: { _tag: "Interval" },
      signalOnHup: { signal: "TERM", label: "TERM" },
      signalOnTerm: { signal: "TERM", label: "TERM" }
    })
  })

  it("takes durations as Effect does: milliseconds, text, or a Duration; refuses a negative one", () => {
    const config = Either.getOrThrow(
      toStarterConfig(
        { command: ["server"], interval: 250, readyTimeout: "5 seconds", killTimeout: Duration.minutes(2) },
        1
      )
    )
    expect(config.supervisor).toMatchObject({ intervalMs: 250, readyTimeoutMs: 5000, killTimeoutMs: 120_000 })
    expect(problem({ command: ["server"], killOldDelay: -1 })).toBe(
      'killOldDelay: a duration expected, such as 500 (milliseconds), "5 seconds" or Duration.minutes(2)'
    )
    expect(problem({ command: ["server"], killTimeout: "soon" as Duration.DurationInput })).toMatch(
      /^killTimeout: a duration expected/
    )
  })

  it("warns about options that work but do not do what one may think", () => {
    expect(warnings({ command: ["server"], ports: ["8080"] })).toEqual([])
    expect(warnings({ command: ["server"], ports: ["8080"], readyTimeout: "5 seconds", readiness: "none" })).toEqual([
      "--ready-timeout has no effect without --ready"
    ])
    expect(warnings({ command: ["server"] })[0]).toMatch(/^no --port or --path: /)
  })

  it.effect("reads the same options from Effect's Config, checked the same way", () =>
    Effect.gen(function* () {
      const provider = (entries: ReadonlyArray<readonly [string, string]>) =>
        ConfigProvider.fromMap(new Map(entries.map(([k, v]) => [k, v])), { pathDelim: "_", seqDelim: "," })
      const options = yield* optionsFromConfig.pipe(
        Effect.withConfigProvider(
          provider([
            ["STARTER_COMMAND", "node,server.mjs"],
            ["STARTER_PORTS", "127.0.0.1:8080,8081"],
            ["STARTER_WORKERS", "3"],
            ["STARTER_KILL_TIMEOUT", "10 seconds"]
          ])
        )
      )
      const config = Either.getOrThrow(toStarterConfig(options, 7))
      expect(config.listen.map((l) => l.key)).toEqual(["127.0.0.1:8080", "8081"])
      expect(config.supervisor).toMatchObject({ argv: ["node", "server.mjs"], workers: 3, killTimeoutMs: 10_000 })
      const bad = yield* Effect.flip(
        optionsFromConfig.pipe(
          Effect.withConfigProvider(
            provider([
              ["STARTER_COMMAND", "server"],
              ["STARTER_WORKERS", "0"]
            ])
          )
        )
      )
      expect(bad.message).toBe("workers: Expected a number between 1 and 1024, actual 0")
    })
  )
})
