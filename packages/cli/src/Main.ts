/**
 * The `start_server` command: parse the command line as Perl's Getopt::Long does, then
 * dispatch in Perl's order (start_server:L27-58): help, version, restart, stop, serve.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Stderr } from "@starter/platform-node"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { type CliOptions, parseCommandLine } from "./CliOptions.js"
import { restart } from "./Restart.js"
import { serve } from "./Serve.js"
import { status } from "./StatusCommand.js"
import { stop } from "./Stop.js"
import { usage, version } from "./Usage.js"

const out = (text: string) => Effect.sync(() => process.stdout.write(text))
const err = (line: string) => Effect.sync(() => Stderr.writeStderr(`${line}\n`))

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

/** Answers the exit status. */
export const main = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Effect.Effect<number> =>
  Effect.gen(function* () {
    // `start_server status …`: a subcommand only as the very first word (a server program
    // named "status" still runs with `--`, as every example in Perl's docs writes it).
    const subcommand = argv[0] === "status" ? "status" : undefined
    const parsed = yield* Effect.either(parseCommandLine(subcommand === undefined ? argv : argv.slice(1), env))
    if (Either.isLeft(parsed)) {
      yield* err(parsed.left.message)
      return 1
    }
    const options = parsed.right
    if (options.help) return yield* Effect.as(out(usage), 0)
    if (options.version) return yield* Effect.as(out(`${version}\n`), 0)
    if (subcommand === "status") return yield* status(options)
    const problem = dispatchError(options)
    if (problem !== undefined) return yield* Effect.as(err(problem), 255)
    if (options.restart) return yield* restart(options)
    if (options.stop) return yield* stop(options)
    return yield* serve(options, argv)
  }).pipe(Effect.provide(NodeContext.layer))
