/**
 * What the compiler checks in the options an application writes: each `@ts-expect-error`
 * line fails `pnpm check` once its type is loosened. And what it lets through, the options
 * accept, while what it refuses they refuse too.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { type StarterOptions, toStarterConfig } from "../src/StarterOptions.js"

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
})
