/**
 * The command line as Perl's Getopt::Long (default configuration) reads it, because
 * init scripts written for Perl's start_server must keep working unchanged:
 * `--opt=value` and `--opt value`, `--`, `-` or `+` before the name, any letter case, unique
 * abbreviations, permute mode (options after the program name are still options), `--` ends
 * the options, and Getopt::Long's exact error texts. With POSIXLY_CORRECT set (to anything,
 * even empty) Getopt::Long takes only `--` and `-`, no abbreviations, and stops at the first
 * non-option. Every case here was checked against perl 5.36's Getopt::Long.
 */
import * as Either from "effect/Either"

export type OptionKind = "string" | "integer" | "duration" | "flag" | "choice"

export interface OptionSpec {
  readonly name: string
  readonly kind: OptionKind
  /** `port` and `path` accumulate; every other option: the last one wins. */
  readonly repeatable: boolean
  /** For a choice: the values it takes. */
  readonly choices?: ReadonlyArray<string>
}

const spec = (name: string, kind: OptionKind, repeatable = false): OptionSpec => ({ name, kind, repeatable })
const choice = (name: string, choices: ReadonlyArray<string>): OptionSpec => ({
  name,
  kind: "choice",
  repeatable: false,
  choices
})

/** script/start_server's GetOptions spec, in its order. */
export const perlOptions: ReadonlyArray<OptionSpec> = [
  spec("port", "string", true),
  spec("path", "string", true),
  spec("interval", "integer"),
  spec("log-file", "string"),
  spec("pid-file", "string"),
  spec("dir", "string"),
  spec("signal-on-hup", "string"),
  spec("signal-on-term", "string"),
  spec("backlog", "integer"),
  spec("envdir", "string"),
  spec("enable-auto-restart", "flag"),
  spec("daemonize", "flag"),
  spec("auto-restart-interval", "integer"),
  spec("kill-old-delay", "integer"),
  spec("status-file", "string"),
  spec("restart", "flag"),
  spec("stop", "flag"),
  spec("help", "flag"),
  spec("version", "flag")
]

/** Ours. Abbreviations resolve against Perl's options first, so none of these steals one. */
export const extendedOptions: ReadonlyArray<OptionSpec> = [
  spec("workers", "integer"),
  spec("max-surge", "integer"),
  spec("ready", "string"),
  spec("ready-timeout", "duration"),
  spec("kill-timeout", "duration"),
  spec("max-start-attempts", "integer"),
  choice("log-format", ["text", "json"]),
  spec("control-socket", "string"),
  spec("json-status-file", "string"),
  spec("metrics-file", "string"),
  spec("json", "flag"),
  spec("listen-fds", "flag"),
  spec("signal-process-group", "flag"),
  spec("path-mode", "string"),
  spec("timeout", "duration"),
  spec("log-worker-tags", "flag")
]

/**
 * The client commands' own (`start_server logs --follow --lines=N`). Abbreviations resolve
 * against these last, so none changes what an abbreviation meant before (`--li` stays
 * `--listen-fds`, not ambiguous with `--lines`).
 */
export const commandOptions: ReadonlyArray<OptionSpec> = [
  spec("follow", "flag"),
  spec("lines", "integer"),
  spec("binary", "string")
]

export const allOptions: ReadonlyArray<OptionSpec> = [...perlOptions, ...extendedOptions, ...commandOptions]

/** Each tier of options an abbreviation is matched against, widening: Perl's, ours, the commands'. */
const tiers: ReadonlyArray<ReadonlyArray<OptionSpec>> = [perlOptions, [...perlOptions, ...extendedOptions], allOptions]

/**
 * One-letter names a client command takes (`start_server logs -f -n 50`), name → option. Only
 * that command's line reads them: on the supervisor's, `-n` stays unknown, as in Perl.
 */
export type ShortNames = Readonly<Record<string, string>>

/**
 * Getopt::Long's complaints. A plain error rather than a `Data.TaggedError`: `--help` and
 * `--version` load this module and little else, and Effect's error machinery would add a
 * sixth to their start-up time.
 */
export class GetoptError extends Error {
  readonly _tag = "GetoptError"
  constructor(
    /** One line per problem, as Getopt::Long warns them (it reports all, then fails). */
    readonly lines: ReadonlyArray<string>
  ) {
    super(lines.join("\n"))
  }
}

export type OptionValue = string | boolean | ReadonlyArray<string>

export interface Parsed {
  /** Canonical option name → value (strings for string and integer options, as typed). */
  readonly options: ReadonlyMap<string, OptionValue>
  /** The server program and its arguments. */
  readonly program: ReadonlyArray<string>
}

const byName = (candidates: ReadonlyArray<OptionSpec>, name: string) =>
  candidates.filter((o) => o.name.startsWith(name))

/**
 * Exact name (or the command's short name) first, then (if allowed) a unique prefix: among
 * Perl's options, then among ours, then among the commands'.
 */
const resolve = (typed: string, abbreviations: boolean, shortNames: ShortNames): OptionSpec | string => {
  const name = typed.toLowerCase()
  const long = Object.hasOwn(shortNames, name) ? shortNames[name] : name
  const exact = allOptions.find((o) => o.name === long)
  if (exact !== undefined) return exact
  // Without abbreviations Getopt::Long never lower-cases the name it reports.
  if (!abbreviations) return `Unknown option: ${typed}`
  for (const tier of tiers) {
    const matches = byName(tier, name)
    if (matches.length === 1) return matches[0]!
    if (matches.length > 1) {
      return `Option ${name} is ambiguous (${matches
        .map((o) => o.name)
        .sort()
        .join(", ")})`
    }
  }
  return `Unknown option: ${name}`
}

const INTEGER = /^[-+]?\d+$/
const maxInteger = Number.MAX_SAFE_INTEGER
/** Ours: seconds (`5`, `0.5`) or a number with a unit (`500ms`, `5s`, `2m`). */
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/

/** A duration in milliseconds; `undefined` for text that is not one. */
export const durationMs = (text: string): number | undefined => {
  const m = DURATION.exec(text)
  if (m === null) return undefined
  const unit = m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000
  return Math.round(Number(m[1]) * unit)
}

export const getopt = (
  argv: ReadonlyArray<string>,
  env: { readonly POSIXLY_CORRECT?: string | undefined } = {},
  shortNames: ShortNames = {}
): Either.Either<Parsed, GetoptError> => {
  const options = new Map<string, OptionValue>()
  const program: Array<string> = []
  const errors: Array<string> = []
  // Getopt::Long's defaults when POSIXLY_CORRECT is unset: `+` is a prefix too, names may be
  // abbreviated, and options may follow the program name.
  const posix = env.POSIXLY_CORRECT !== undefined
  // `name=value` splits after `--`, or after any prefix in Getopt::Long's default mode.
  const prefixed = posix ? /^(?:--(.+?)(?:=(.*))?|-(.+))$/s : /^(?:--?|\+)(.+?)(?:=(.*))?$/s
  let i = 0
  for (; i < argv.length; i++) {
    const token = argv[i]!
    if (token === "--") {
      i++
      break
    }
    if (token === "+" && !posix) {
      errors.push("Missing option after +")
      continue
    }
    const match = prefixed.exec(token)
    if (match === null) {
      if (posix) break
      program.push(token)
      continue
    }
    const option = resolve(match[1] ?? match[3]!, !posix, shortNames)
    if (typeof option === "string") {
      errors.push(option)
      continue
    }
    let value = match[2]
    if (option.kind === "flag") {
      if (value !== undefined) errors.push(`Option ${option.name} does not take an argument`)
      else options.set(option.name, true)
      continue
    }
    // A mandatory value is the rest of the token after `=`, else the next argument,
    // whatever it looks like (Getopt::Long takes `--pid-file -x` and even `--pid-file --`).
    // An empty `--opt=` has no value; an empty next argument is one (a string option takes it).
    if (value === "" || (value === undefined && i + 1 >= argv.length)) {
      errors.push(`Option ${option.name} requires an argument`)
      continue
    }
    value ??= argv[++i]!
    if (option.kind === "integer" && !INTEGER.test(value)) {
      errors.push(`Value "${value}" invalid for option ${option.name} (number expected)`)
      continue
    }
    if (option.kind === "duration" && !DURATION.test(value)) {
      errors.push(`Value "${value}" invalid for option ${option.name} (duration expected)`)
      continue
    }
    if (option.choices !== undefined && !option.choices.includes(value)) {
      errors.push(`Value "${value}" invalid for option ${option.name} (${option.choices.join(" or ")} expected)`)
      continue
    }
    // Perl reads any integer, however long; 2^53 seconds is as good as forever for all of these.
    if (option.kind === "integer") value = String(Math.max(-maxInteger, Math.min(maxInteger, Number(value))))
    if (option.repeatable)
      options.set(option.name, [...((options.get(option.name) as ReadonlyArray<string>) ?? []), value])
    else options.set(option.name, value)
  }
  program.push(...argv.slice(i))
  return errors.length > 0 ? Either.left(new GetoptError(errors)) : Either.right({ options, program })
}

/**
 * The parsed options as tokens @effect/cli reads unambiguously: `--name=value` for a single
 * value (so a value like `--` or `-x` is never mistaken for an option), the bare name for a
 * flag, and `--name value` pairs for the repeatable ones (@effect/cli's `Options.repeated`
 * ignores the `=` form).
 */
export const canonicalTokens = (parsed: Parsed): ReadonlyArray<string> =>
  [...parsed.options].flatMap(([name, value]) => {
    if (value === true) return [`--${name}`]
    if (typeof value === "string") return [`--${name}=${value}`]
    if (Array.isArray(value)) return value.flatMap((v: string) => [`--${name}`, v])
    return []
  })
