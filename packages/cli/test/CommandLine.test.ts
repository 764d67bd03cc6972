/**
 * The client commands read their command line through Getopt alone (Main.ts `read`), never
 * loading @effect/cli; CommandLine.ts defines the same command line with @effect/cli. Here
 * both must read generated client command lines alike, and name the same commands.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { commands } from "../src/ClientCommands.js"
import { type CliOptions, type Parsed as DefinedOptions, toCliOptions } from "../src/CliOptions.js"
import { startServer } from "../src/CommandLine.js"
import { type ClientCommandName, clientCommandNames } from "../src/CommandNames.js"
import { canonicalTokens } from "../src/Getopt.js"
import { read } from "../src/Main.js"
import { runToExit } from "./support/Harness.js"

/** What a client command runs with. */
interface ClientReading {
  readonly command: string | undefined
  readonly options: CliOptions
  readonly args: ReadonlyArray<string>
}

/** The binary's own reading (Main.ts), and the canonical tokens it hands on. */
const fastPath = (argv: ReadonlyArray<string>) => {
  const reading = read(argv, {})
  if (Either.isLeft(reading)) throw new Error(`getopt refused ${JSON.stringify(argv)}: ${reading.left.message}`)
  const { command, parsed, options } = reading.right
  return {
    reading: { command: command?.name, options, args: parsed.program } satisfies ClientReading,
    tokens: canonicalTokens(parsed)
  }
}

/** What @effect/cli's parser asks for, built once for the hundreds of parses below. */
const parser = ManagedRuntime.make(NodeContext.layer)
afterAll(() => parser.dispose())

/** @effect/cli's reading of `start_server NAME tokens… -- args…` through the whole definition. */
const definition = (
  name: string,
  tokens: ReadonlyArray<string>,
  args: ReadonlyArray<string>
): Promise<Option.Option<ClientReading>> =>
  Descriptor.parse(startServer, ["start_server", name, ...tokens, "--", ...args], CliConfig.defaultConfig).pipe(
    Effect.map((directive) => {
      if (directive._tag !== "UserDefined" || directive.leftover.length > 0) return Option.none()
      const { options, args: program, subcommand } = directive.value
      return Option.map(subcommand, ([command, own]) => {
        const ownArgs = own.args === undefined ? [] : [String(own.args)]
        // Anything the parent command took (an option, a program argument) shows as a difference.
        const merged = { ...options, ...own.options } as DefinedOptions
        return { command, options: toCliOptions(merged, [...program, ...ownArgs]), args: ownArgs }
      })
    }),
    Effect.orElseSucceed(() => Option.none()),
    parser.runPromise
  )

const common = ["control-socket", "pid-file", "json", "timeout"]
/** The options each command takes, as its --help lists them. */
const takes = (name: ClientCommandName) => (name === "logs" ? [...common, "follow", "lines"] : common)
const flags = new Set(["json", "follow"])
const shortNames: Readonly<Record<string, string>> = { follow: "f", lines: "n" }

const valueFor = (option: string): fc.Arbitrary<string> => {
  switch (option) {
    case "timeout":
      return fc.constantFrom("5", "0.5", "500ms", "2m", "1.25s", "0")
    case "lines":
      return fc.integer({ min: 0, max: 100_000 }).map(String)
    default:
      return fc.stringMatching(/^[a-z0-9/._:=-]{1,12}$/)
  }
}

const argsFor = (name: ClientCommandName): fc.Arbitrary<ReadonlyArray<string>> => {
  switch (name) {
    case "scale":
      return fc.integer({ min: 1, max: 1024 }).map((n) => [String(n)])
    case "signal":
      return fc.constantFrom("USR2", "TERM", "SIGHUP", "winch", "9", "0").map((sig) => [sig])
    default:
      return fc.constant([])
  }
}

/** An option as Getopt::Long takes it: `--`, `-` or `+`, any case, `=value` or the next argument. */
const spelled = (name: string, value: string | undefined, logs: boolean): fc.Arbitrary<ReadonlyArray<string>> => {
  const short = logs ? shortNames[name] : undefined
  const names = fc.oneof(
    fc
      .constantFrom("--", "-", "+")
      .chain((prefix) =>
        fc.constantFrom(name, name.toUpperCase(), name[0]!.toUpperCase() + name.slice(1)).map((n) => prefix + n)
      ),
    ...(short === undefined ? [] : [fc.constant(`-${short}`)])
  )
  return names.chain((spelling) =>
    value === undefined
      ? fc.constant([spelling])
      : fc.constantFrom<ReadonlyArray<string>>([`${spelling}=${value}`], [spelling, value])
  )
}

/** A client command line: the command, some of its options in any order, its arguments among them or after `--`. */
const clientLine = fc
  .constantFrom(...clientCommandNames)
  .chain((name) =>
    fc.record({
      name: fc.constant(name),
      options: fc
        .shuffledSubarray(takes(name))
        .chain((options) =>
          fc.tuple(
            ...options.map((o) => (flags.has(o) ? fc.constant(undefined) : valueFor(o)).map((v) => [o, v] as const))
          )
        ),
      args: argsFor(name),
      afterDashes: fc.boolean(),
      seed: fc.nat()
    })
  )
  .chain(({ name, options, args, afterDashes, seed }) =>
    fc.tuple(...options.map(([o, v]) => spelled(o, v, name === "logs"))).map((units) => {
      const argv = afterDashes
        ? [...units.flat(), "--", ...args]
        : // permute mode: an argument may stand between any two options
          [...units.slice(0, seed % (units.length + 1)), args, ...units.slice(seed % (units.length + 1))].flat()
      // The same options as the canonical tokens Getopt would hand on, built from what was generated.
      const intended = options.map(([o, v]) => (v === undefined ? `--${o}` : `--${o}=${v}`))
      return { name, argv: [name, ...argv], intended, args }
    })
  )

describe("the client commands' command line (@effect/cli definition vs the fast path)", () => {
  it("reads every generated command line as @effect/cli does (property, fixed seed)", () =>
    fc.assert(
      fc.asyncProperty(clientLine, async ({ name, argv, intended, args }) => {
        const fast = fastPath(argv)
        expect(fast.reading.command).toBe(name)
        const fromTokens = await definition(name, fast.tokens, fast.reading.args)
        const fromIntent = await definition(name, intended, args)
        expect(Option.getOrThrow(fromTokens)).toEqual(fast.reading)
        expect(Option.getOrThrow(fromIntent)).toEqual(fast.reading)
      }),
      { numRuns: 200, seed: 20261201 }
    ))

  it("has a subcommand for every name in CommandNames.ts, and no other", () => {
    const subcommands = [...HashMap.keys(Descriptor.getSubcommands(startServer))]
    expect(subcommands.sort()).toEqual([...clientCommandNames].sort())
  })

  it("describes each command with its summary in the ClientCommands table, and logs' -f and -n", () => {
    const subcommands = Descriptor.getSubcommands(startServer)
    for (const command of commands) {
      const sub = Option.getOrThrow(HashMap.get(subcommands, command.name))
      const help = HelpDoc.toAnsiText(Descriptor.getHelp(sub, CliConfig.defaultConfig)).replace(/\s+/g, " ")
      expect(help).toContain(command.summary)
    }
    const logs = Option.getOrThrow(HashMap.get(subcommands, "logs"))
    const usage = HelpDoc.toAnsiText(Descriptor.getHelp(logs, CliConfig.defaultConfig))
    expect(usage).toMatch(/\(-f, --follow\)/)
    expect(usage).toMatch(/\(-n, --lines integer\)/)
  })

  it("scale N: the binary refuses as a usage error (2) exactly what the definition refuses", async () => {
    for (const n of ["1", "1024", "07", "0", "1025", "zero", "1.5", "-3", ""]) {
      const defined = Option.isSome(await definition("scale", [], [n]))
      const binary = await runToExit(["scale", "--control-socket=/nonexistent/c.sock", "--", n])
      // 3: past the check, no supervisor there.
      expect({ n, code: binary.code }).toEqual({ n, code: defined ? 3 : 2 })
    }
  })
})
