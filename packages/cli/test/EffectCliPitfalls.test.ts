/**
 * @effect/cli 0.77 mishandles start_server's command line in known ways (effect-stack.md
 * §2.3). Each one has a test here proving the Getopt front end gets it right, plus a
 * property test that every equivalent Getopt spelling parses the same.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import fc from "fast-check"
import { parseCommandLine, startServer } from "../src/CommandLine.js"

const parse = (argv: ReadonlyArray<string>, env: { POSIXLY_CORRECT?: string } = {}) =>
  parseCommandLine(argv, env).pipe(Effect.provide(NodeContext.layer))
const failure = (argv: ReadonlyArray<string>) => Effect.map(Effect.flip(parse(argv)), (e) => e.message)

describe("@effect/cli's silent failures, handled", () => {
  it.effect("`--port=80` with a repeated option is not dropped into the program's arguments", () =>
    Effect.gen(function* () {
      const o = yield* parse([
        "--port=80",
        "--port",
        "127.0.0.1:8080",
        "--interval=3",
        "--",
        "node",
        "server.js",
        "--foo"
      ])
      expect(o.ports).toEqual(["80", "127.0.0.1:8080"])
      expect(o.interval).toBe(3)
      expect(o.program).toEqual(["node", "server.js", "--foo"])
    })
  )

  it.effect("`--PORT 80` (any case) is kept", () =>
    Effect.map(parse(["--PORT", "80", "-Interval=2", "--", "x"]), (o) => {
      expect(o.ports).toEqual(["80"])
      expect(o.interval).toBe(2)
    })
  )

  it.effect("--help and --version are honoured anywhere, not only as the first token", () =>
    Effect.gen(function* () {
      expect((yield* parse(["--port", "80", "--help"])).help).toBe(true)
      expect((yield* parse(["--port", "80", "-v"])).version).toBe(true)
      // ...but not after `--`, where they belong to the program
      const o = yield* parse(["--port", "80", "--", "node", "--help", "--version"])
      expect([o.help, o.version, o.program]).toEqual([false, false, ["node", "--help", "--version"]])
    })
  )

  it.effect("unknown options are errors, not program arguments", () =>
    Effect.map(failure(["--port", "80", "--bogus", "--", "x"]), (m) => expect(m).toBe("Unknown option: bogus"))
  )

  it.effect("a missing value is an error, not a silent default", () =>
    Effect.gen(function* () {
      expect(yield* failure(["--port", "80", "--interval"])).toBe("Option interval requires an argument")
      expect(yield* failure(["--port", "80", "--interval", "--", "x"])).toBe(
        'Value "--" invalid for option interval (number expected)'
      )
    })
  )

  it.effect(
    "@effect/cli's built-ins (--wizard waits on stdin forever, --completions, --log-level) are unknown options",
    () =>
      Effect.gen(function* () {
        expect(yield* failure(["--wizard"])).toBe("Unknown option: wizard")
        expect(yield* failure(["--completions", "bash"])).toBe("Unknown option: completions")
        expect(yield* failure(["--log-level", "debug"])).toBe("Unknown option: log-level")
      })
  )

  it.effect("abbreviations, one dash, ambiguity and permute mode follow Getopt::Long", () =>
    Effect.gen(function* () {
      const o = yield* parse(["-por=80", "--int=3", "--stat", "s", "--", "x"])
      expect([o.ports, o.interval, o.statusFile]).toEqual([["80"], 3, "s"])
      expect(yield* failure(["--port=8000", "plackup", "-s", "Starlet"])).toBe(
        "Option s is ambiguous (signal-on-hup, signal-on-term, status-file, stop)"
      )
      const posix = yield* parse(["--port=8000", "plackup", "-s", "Starlet"], { POSIXLY_CORRECT: "1" })
      expect(posix.program).toEqual(["plackup", "-s", "Starlet"])
    })
  )

  it.effect("a program argument named like a client command stays the program's", () =>
    Effect.gen(function* () {
      // @effect/cli splits at the first argument named like a subcommand, even after `--`,
      // so the supervisor's line is read by the `supervisor` command alone.
      const whole = yield* Descriptor.parse(
        startServer,
        ["start_server", "--port=80", "--", "app", "status"],
        CliConfig.defaultConfig
      )
      expect(whole._tag === "UserDefined" && Option.isSome(whole.value.subcommand)).toBe(true)
      expect((yield* parse(["--port=80", "--", "app", "status"])).program).toEqual(["app", "status"])
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("our options never steal an abbreviation that is unique among Perl's", () =>
    Effect.gen(function* () {
      // `--re` was `--restart` for Perl; `--ready` and `--ready-timeout` must not change that.
      expect((yield* parse(["--re", "--pid-file=p", "--status-file=s"])).restart).toBe(true)
      expect((yield* parse(["--kill=5", "--", "x"])).killOldDelay).toBe(5)
    })
  )
})

describe("equivalent spellings (property)", () => {
  const spellings = (name: string, value: string) => {
    const abbreviations: Record<string, string> = { "pid-file": "pid", interval: "int", port: "por", backlog: "back" }
    return fc.constantFrom(
      [`--${name}=${value}`],
      [`--${name}`, value],
      [`-${name}=${value}`],
      [`--${name.toUpperCase()}=${value}`],
      [`--${abbreviations[name] ?? name}=${value}`]
    )
  }
  it.effect("parse to the same options, and arguments after `--` pass through verbatim", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 65535 }),
          fc.integer({ min: 0, max: 99 }),
          fc.stringMatching(/^[a-z0-9/._-]{1,20}$/),
          fc.array(fc.string(), { maxLength: 6 }),
          fc.integer({ min: 0, max: 4 }),
          async (port, interval, pidFile, rest, pick) => {
            const render = (name: string, value: string) =>
              fc.sample(spellings(name, value), { numRuns: 1, seed: pick + name.length })[0]!
            const argv = [
              ...render("port", String(port)),
              ...render("interval", String(interval)),
              ...render("pid-file", pidFile),
              "--",
              ...rest
            ]
            const o = await Effect.runPromise(parse(argv))
            expect([o.ports, o.interval, o.pidFile, o.program]).toEqual([[String(port)], interval, pidFile, rest])
          }
        ),
        { numRuns: 150, seed: 20261201 }
      )
    )
  )
})
