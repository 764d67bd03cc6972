/**
 * The argv front end against Perl's own Getopt::Long, on generated command lines (fast-check):
 * the same options and values, the same program argv, the same error lines. The reference
 * is script/start_server's exact GetOptions call (test/fixtures/getopt-long.pl).
 */
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import * as Either from "effect/Either"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { extendedOptions, getopt, perlOptions } from "../src/Getopt.js"
import { fixtures } from "./support/Harness.js"
import { perlMissing } from "./support/Perl.js"

const skipReason = perlMissing()

interface Case {
  readonly argv: ReadonlyArray<string>
  readonly posix?: string | undefined
}

interface PerlResult {
  readonly ok: boolean
  readonly options: Record<string, string | number | ReadonlyArray<string>>
  readonly program: ReadonlyArray<string>
  readonly warnings: ReadonlyArray<string>
}

const anyCase = (name: string) =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((upper) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(""))

/** A Perl option's name, whole or abbreviated, in any case. */
const perlName = fc
  .constantFrom(...perlOptions.map((o) => o.name))
  .chain((name) => fc.integer({ min: 1, max: name.length }).map((n) => name.slice(0, n)))
  .chain(anyCase)

/** Names no option of Perl's nor of ours starts with: Unknown to both. */
const unknownName = fc.constantFrom("foo", "zz", "q", "x-y", "porter", "helpme")
const ours = extendedOptions.map((o) => o.name)

const value = fc.constantFrom(
  "8080",
  "127.0.0.1:8080",
  "007",
  "-3",
  "+4",
  "abc",
  "1.5",
  "",
  "/tmp/x.pid",
  "TERM",
  "-x",
  "--",
  "99999999999999999999"
)
const word = fc.constantFrom("prog", "-s", "x", "--", "-", "+", "plackup", "app.psgi", "-", "--x=1")

const optionToken = fc
  .tuple(
    fc.constantFrom("--", "-", "+"),
    fc.oneof({ weight: 4, arbitrary: perlName }, { weight: 1, arbitrary: unknownName }),
    fc.option(value)
  )
  .map(([prefix, name, v]) => (v === null ? `${prefix}${name}` : `${prefix}${name}=${v}`))

const argv = fc.array(fc.oneof(optionToken, optionToken, value, word), { maxLength: 8 })
const cases = fc.record(
  { argv, posix: fc.option(fc.constantFrom("1", ""), { nil: undefined }) },
  { requiredKeys: ["argv"] }
)

const perlGetopt = (all: ReadonlyArray<Case>): ReadonlyArray<PerlResult> =>
  execFileSync("perl", [path.join(fixtures, "getopt-long.pl")], {
    input: `${all.map((c) => JSON.stringify(c)).join("\n")}\n`,
    encoding: "utf8",
    maxBuffer: 64 * 2 ** 20
  })
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as PerlResult)

const maxSafe = Number.MAX_SAFE_INTEGER

/** Ours, in the shape the Perl script prints. */
const oursAsPerl = (c: Case): PerlResult => {
  const parsed = getopt(c.argv, c.posix === undefined ? {} : { POSIXLY_CORRECT: c.posix })
  if (Either.isLeft(parsed)) return { ok: false, options: {}, program: [], warnings: parsed.left.lines }
  const options: Record<string, string | number | ReadonlyArray<string>> = {}
  for (const [name, v] of parsed.right.options) {
    const spec = perlOptions.find((o) => o.name === name)
    options[name.replace(/-/g, "_")] = v === true ? 1 : spec?.kind === "integer" ? Number(v) : (v as string)
  }
  return { ok: true, options, program: parsed.right.program, warnings: [] }
}

/** Perl's, with integers past 2^53 as ours reads them (the same "forever"). */
const normalized = (r: PerlResult): PerlResult => ({
  ...r,
  options: Object.fromEntries(
    Object.entries(r.options).map(([k, v]) => [k, typeof v === "number" ? Math.max(-maxSafe, Math.min(maxSafe, v)) : v])
  )
})

describe.skipIf(skipReason !== undefined)("the argv front end against Perl's Getopt::Long (fast-check)", () => {
  it("reads generated command lines as Getopt::Long does", () => {
    const all = fc.sample(cases, { numRuns: 2000, seed: 20261201 })
    const reference = perlGetopt(all)
    all.forEach((c, i) => {
      const perl = normalized(reference[i]!)
      const mine = oursAsPerl(c)
      const label = JSON.stringify(c)
      expect(mine.warnings, label).toEqual(perl.warnings)
      if (perl.ok) {
        expect(mine.options, label).toEqual(perl.options)
        expect(mine.program, label).toEqual(perl.program)
      }
    })
  })

  it("the unknown names are unknown to our extra options too", () => {
    for (const name of ["foo", "zz", "q", "x-y", "porter", "helpme"])
      expect(ours.some((o) => o.startsWith(name))).toBe(false)
  })
})
