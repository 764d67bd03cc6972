/**
 * The `start_server` command: parse the command line as Perl's Getopt::Long does, then
 * dispatch in Perl's order (start_server:L27-58): help, version, restart, stop, serve.
 */
import type * as EarlyListen from "@starter/platform-shared/EarlyListen"
import * as Stderr from "@starter/platform-shared/Stderr"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ClientCommands from "./ClientCommands.js"
import type { CliOptions } from "./CliOptions.js"
import { fromGetopt } from "./CliOptionsFromGetopt.js"
import { mistypedCommand } from "./CommandTypo.js"
import { allOptions, type GetoptError, getopt, type Parsed } from "./Getopt.js"
import { closest } from "./Suggest.js"
import { usage, version } from "./Usage.js"

const out = (text: string) => Effect.sync(() => Stderr.writeStdout(text))
const err = (line: string) => Effect.sync(() => Stderr.writeStderr(`${line}\n`))

/** A command's module, imported when it runs (a module that fails to load is a defect). */
const load = <M, A, E>(module: () => Promise<M>, run: (m: M) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.flatMap(Effect.promise(module), run)

/** Perl's dispatch-time checks, all fatal with exit status 255. */
export const dispatchError = (options: CliOptions): string | undefined => {
  const viaControl = options.controlSocket !== undefined
  if (options.restart && !viaControl && (options.pidFile === undefined || options.statusFile === undefined)) {
    return "--restart option requires --pid-file and --status-file to be set as well"
  }
  if (options.stop && options.pidFile === undefined) return "--stop option requires --pid-file to be set as well"
  if (options.restart || options.stop) return undefined
  // Perl's message, typo included: scripts may match on it.
  if (options.daemonize && options.logFile === undefined) {
    return "Usage: --log-file option must be specified together with --deamonize"
  }
  if (options.program.length === 0) return "server program not specified"
  return undefined
}

/** Getopt::Long's lines, each unknown option followed by the closest one we know. */
const withSuggestions = (lines: ReadonlyArray<string>): string =>
  lines
    .map((line) => {
      const typed = /^Unknown option: (.+)$/.exec(line)?.[1]
      const near =
        typed === undefined
          ? undefined
          : closest(
              typed,
              allOptions.map((o) => o.name)
            )
      return near === undefined ? line : `${line} (did you mean --${near}?)`
    })
    .join("\n")

/** Getopt's reading of argv, which every path starts from and the clients end with. */
export interface Reading {
  /** The client command named by the very first word, if any. */
  readonly command: ClientCommands.ClientCommand | undefined
  /** argv after the command's word. */
  readonly rest: ReadonlyArray<string>
  readonly parsed: Parsed
  /** The options straight from Getopt, as the short-lived paths take them; a command's arguments are `parsed.program`. */
  readonly options: CliOptions
}

/**
 * `start_server status …`: a command only as the very first word (a server program named
 * "status" still runs with `--`, as every example in Perl's docs writes it).
 */
export const read = (
  argv: ReadonlyArray<string>,
  env: { readonly POSIXLY_CORRECT?: string | undefined }
): Either.Either<Reading, GetoptError> => {
  const command = ClientCommands.find(argv[0])
  const rest = command === undefined ? argv : argv.slice(1)
  return Either.map(getopt(rest, env, command?.shortNames), (parsed) => ({
    command,
    rest,
    parsed,
    options: fromGetopt(parsed)
  }))
}

/** Answers the exit status. `early`: the ports the binary bound before loading this (bin.ts). */
export const main = (
  argv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  early?: EarlyListen.EarlySockets
): Effect.Effect<number> =>
  Effect.gen(function* () {
    const reading = read(argv, env)
    if (Either.isLeft(reading)) return yield* Effect.as(err(withSuggestions(reading.left.lines)), 1)
    // Each path loads its own modules: a client never loads the supervisor, nor @effect/cli.
    const { command, rest, parsed, options: quick } = reading.right
    if (command !== undefined) {
      if (quick.help) return yield* Effect.as(out(ClientCommands.help(command)), 0)
      return yield* ClientCommands.run(command, quick, parsed.program, env)
    }
    if (quick.help) return yield* Effect.as(out(usage), 0)
    if (quick.version) return yield* Effect.as(out(`${version}\n`), 0)
    const problem = dispatchError(quick)
    if (problem !== undefined) return yield* Effect.as(err(problem), 255)
    if (quick.restart)
      return yield* load(
        () => import("./Restart.js"),
        (m) => m.restart(quick)
      )
    if (quick.stop)
      return yield* load(
        () => import("./Stop.js"),
        (m) => m.stop(quick)
      )
    // Ours: a mistyped command starts nothing (Perl would retry its exec for ever).
    const typo = mistypedCommand(quick.program, env, quick.envdir)
    if (typo !== undefined) return yield* Effect.as(err(typo), 1)
    // The supervisor's command line, as @effect/cli (which defines it) reads it.
    const options = yield* Effect.either(
      load(
        () => import("./CommandLine.js"),
        (m) => m.parseCommandLine(rest, env)
      )
    )
    if (Either.isLeft(options)) return yield* Effect.as(err(options.left.message), 1)
    return yield* load(
      () => import("./Serve.js"),
      (m) => m.serve(options.right, argv, early)
    )
  })
