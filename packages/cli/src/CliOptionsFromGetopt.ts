/**
 * The options straight from Getopt's reading, for the short-lived commands (`status`,
 * `--restart`, `--stop`), which must start fast: loading @effect/cli costs them more than
 * all their work. @effect/cli's (CommandLine.ts) stays the definition; property tests hold
 * this reading equal to it on generated command lines, the client commands' too.
 */
import type { CliOptions } from "./CliOptions.js"
import { allOptions, durationMs, type OptionSpec, type OptionValue, type Parsed } from "./Getopt.js"

/** `ready-timeout` → `readyTimeoutMs`, `port` → `ports`: how CliOptions names each option. */
export const keyOf = (spec: OptionSpec): string => {
  const camel = spec.name.replace(/-(.)/g, (_, c: string) => c.toUpperCase())
  return `${camel}${spec.kind === "duration" ? "Ms" : ""}${spec.repeatable ? "s" : ""}`
}

const typedValue = (spec: OptionSpec, value: OptionValue | undefined): unknown => {
  if (value === undefined) return spec.kind === "flag" ? false : spec.repeatable ? [] : undefined
  if (typeof value !== "string") return value
  if (spec.kind === "integer") return Number(value)
  if (spec.kind === "duration") return durationMs(value)
  return value
}

export const fromGetopt = (parsed: Parsed): CliOptions => {
  const entries = allOptions.map((spec) => [keyOf(spec), typedValue(spec, parsed.options.get(spec.name))])
  return { ...(Object.fromEntries(entries) as Omit<CliOptions, "program">), program: parsed.program }
}
