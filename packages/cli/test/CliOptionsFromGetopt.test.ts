/**
 * The short-lived commands read their options straight from Getopt (CliOptionsFromGetopt.ts);
 * @effect/cli's (CommandLine.ts) is the definition. On generated command lines that use every
 * option, both must give the same options to the last field, and the supervisor's parse must
 * read as the definition's `supervisor` command does. (The client commands: CommandLine.test.ts.)
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ManagedRuntime from "effect/ManagedRuntime"
import fc from "fast-check"
import { afterAll } from "vitest"
import { toCliOptions } from "../src/CliOptions.js"
import { fromGetopt } from "../src/CliOptionsFromGetopt.js"
import { parseCommandLine, supervisor } from "../src/CommandLine.js"
import { allOptions, canonicalTokens, getopt, type OptionSpec } from "../src/Getopt.js"

const valueFor = (spec: OptionSpec): fc.Arbitrary<string> => {
  switch (spec.kind) {
    case "integer":
      return fc.integer({ min: -5, max: 1_000_000 }).map(String)
    case "duration":
      return fc.constantFrom("5", "0.5", "500ms", "2m", "1.25s", "0")
    case "choice":
      return fc.constantFrom(...(spec.choices ?? []))
    default:
      return fc.stringMatching(/^[a-z0-9/._:=-]{1,12}$/)
  }
}

/** Some of the options, each given once (twice or thrice if repeatable), in any order. */
const tokens = fc
  .shuffledSubarray([...allOptions])
  .chain((specs) =>
    fc.tuple(
      ...specs.map((spec) =>
        spec.kind === "flag"
          ? fc.constant([`--${spec.name}`])
          : fc
              .array(valueFor(spec), { minLength: 1, maxLength: spec.repeatable ? 3 : 1 })
              .map((values) => values.map((v) => `--${spec.name}=${v}`))
      )
    )
  )
  .map((groups) => groups.flat())

const program = fc.array(fc.constantFrom("node", "app.js", "-x", "--port=1", "status"), { maxLength: 3 })

/** What @effect/cli's parser asks for, built once for the property's runs. */
const parser = ManagedRuntime.make(NodeContext.layer)
afterAll(() => parser.dispose())

describe("fromGetopt", () => {
  it("reads every option as @effect/cli does (property, fixed seed)", () =>
    fc.assert(
      fc.asyncProperty(tokens, program, async (options, args) => {
        const argv = [...options, "--", ...args]
        const parsed = getopt(argv)
        if (Either.isLeft(parsed)) throw new Error(`getopt refused ${JSON.stringify(argv)}: ${parsed.left.message}`)
        const definition = await Effect.runPromise(parseCommandLine(argv))
        expect(fromGetopt(parsed.right)).toEqual(definition)
        // `--help` and `--version` never reach it: @effect/cli's built-ins would answer them.
        if (definition.help || definition.version) return
        const directive = await parser.runPromise(
          Descriptor.parse(
            supervisor,
            ["start_server", ...canonicalTokens(parsed.right), "--", ...parsed.right.program],
            CliConfig.defaultConfig
          )
        )
        if (directive._tag !== "UserDefined") throw new Error(`a built-in answered ${JSON.stringify(argv)}`)
        expect(toCliOptions(directive.value.options, directive.value.args)).toEqual(definition)
      }),
      { numRuns: 100, seed: 20261201 }
    ))

  it("gives every option's default when none is given", async () => {
    const parsed = getopt(["--", "app"])
    if (Either.isLeft(parsed)) throw parsed.left
    expect(fromGetopt(parsed.right)).toEqual(await Effect.runPromise(parseCommandLine(["--", "app"])))
  })
})
