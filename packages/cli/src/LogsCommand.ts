/**
 * `start_server logs [-f] [-n N]`: the log as the supervisor keeps it in memory (its last
 * lines, then with `-f` each new one), and `start_server reopen-logs`: reopen `--log-file`
 * after logrotate renamed it.
 */
import * as ControlReplies from "@starter/core/ControlReplies"
import type * as Logs from "@starter/core/Logs"
import { writeStdout } from "@starter/platform-shared/Stderr"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { CliOptions } from "./CliOptions.js"
import { ask, follow } from "./ControlClient.js"
import { print } from "./ControlCommands.js"
import { exitWithMessage, WrapperError } from "./PidFileReader.js"

const defaultLines = 10
const maxLines = 100_000

const usage = (message: string) => new WrapperError({ message, exitCode: 2 })

/**
 * The lines as the log has them, or each entry as JSON. `logs -f | head` closes our stdout:
 * that ends the command, as it ends `tail -f`.
 */
const printEntries = (options: CliOptions, entries: ReadonlyArray<Logs.LogEntry>): void => {
  if (entries.length === 0) return
  if (!writeStdout(`${entries.map((e) => (options.json ? JSON.stringify(e) : e.line)).join("\n")}\n`)) {
    process.exit(0)
  }
}

export const logs = (options: CliOptions, args: ReadonlyArray<string>, socket: string): Effect.Effect<number> =>
  Effect.gen(function* () {
    const lines = options.lines ?? defaultLines
    if (args.length > 0 || lines < 0 || lines > maxLines) {
      return yield* usage(`usage: start_server logs [-f|--follow] [-n N|--lines=N] (N: 0 to ${maxLines})`)
    }
    if (!options.follow) {
      const result = yield* ask(options, socket, { cmd: "logs", lines }, ControlReplies.LogLines)
      printEntries(options, result.lines)
      return 0
    }
    const lineOf = Schema.decodeUnknownOption(ControlReplies.LogLine)
    const backlogOf = Schema.decodeUnknownOption(ControlReplies.LogLines)
    yield* follow(socket, { cmd: "logs", lines, follow: true }, (reply) => {
      const entries =
        reply.event !== undefined
          ? Option.toArray(lineOf(reply.event))
          : Option.match(backlogOf(reply.result), { onNone: () => [], onSome: (r) => r.lines })
      printEntries(options, entries)
    })
    return 0
  }).pipe(exitWithMessage)

export const reopenLogs = (options: CliOptions, args: ReadonlyArray<string>, socket: string): Effect.Effect<number> =>
  Effect.gen(function* () {
    if (args.length > 0) return yield* usage("usage: start_server reopen-logs")
    const result = yield* ask(options, socket, { cmd: "reopen-logs" }, ControlReplies.Reopened)
    yield* print(options, result, result.reopened === null ? (result.reason ?? "") : `reopened ${result.reopened}`)
    return 0
  }).pipe(exitWithMessage)
