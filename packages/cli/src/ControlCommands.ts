/**
 * The small control commands: `scale N`, `signal SIG` and `events`, each one request on the
 * control socket, answered in words (or JSON with `--json`).
 */
import * as ControlReplies from "@starter/core/ControlReplies"
import { writeStdout } from "@starter/platform-shared/Stderr"
import * as Effect from "effect/Effect"
import type { CliOptions } from "./CliOptions.js"
import { ask, follow } from "./ControlClient.js"
import { exitWithMessage, WrapperError } from "./PidFileReader.js"

const usage = (message: string) => new WrapperError({ message, exitCode: 2 })

export const print = (options: CliOptions, json: unknown, text: string) =>
  Effect.sync(() => writeStdout(`${options.json ? JSON.stringify(json) : text}\n`))

export const scale = (options: CliOptions, args: ReadonlyArray<string>, socket: string): Effect.Effect<number> =>
  Effect.gen(function* () {
    const workers = Number(args[0])
    if (args.length !== 1 || !Number.isInteger(workers) || workers < 1 || workers > 1024) {
      return yield* usage("usage: start_server scale N (N: 1 to 1024 workers)")
    }
    const result = yield* ask(options, socket, { cmd: "scale", workers }, ControlReplies.Workers)
    yield* print(options, result, `scaling to ${workers} worker${workers === 1 ? "" : "s"}`)
    return 0
  }).pipe(exitWithMessage)

export const signal = (options: CliOptions, args: ReadonlyArray<string>, socket: string): Effect.Effect<number> =>
  Effect.gen(function* () {
    if (args.length !== 1) return yield* usage("usage: start_server signal SIG (a name such as USR2, or a number)")
    const name = args[0]!.toUpperCase().replace(/^SIG/, "")
    const result = yield* ask(options, socket, { cmd: "signal", signal: name }, ControlReplies.Workers)
    const count = result.workers
    yield* print(options, result, `sent SIG${name} to ${count} worker${count === 1 ? "" : "s"}`)
    return 0
  }).pipe(exitWithMessage)

/** A lifecycle event in one line: its time, its name, then its fields as key=value. */
export const eventLine = (event: Record<string, unknown>, at: Date): string => {
  const { _tag, ...fields } = event
  const rest = Object.entries(fields).map(
    ([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : String(value)}`
  )
  return [at.toISOString(), String(_tag), ...rest].join(" ")
}

export const events = (options: CliOptions, socket: string): Effect.Effect<number> =>
  follow(socket, { cmd: "subscribe" }, (reply) => {
    if (reply.event === undefined) return // the subscription's own acknowledgement
    const event = reply.event as Record<string, unknown>
    // `events | head` closes our stdout: that ends the command, as it ends `tail -f`.
    if (!writeStdout(`${options.json ? JSON.stringify(event) : eventLine(event, new Date())}\n`)) process.exit(0)
  }).pipe(Effect.as(0), exitWithMessage)
