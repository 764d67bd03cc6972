/**
 * `start_server --stop`: send TERM to the running start_server, then wait until it has
 * exited. Perl blocks on the pid file's flock, released when the server exits; we watch
 * the process itself, which works the same against Perl's start_server.
 */
import { writeStderr, writeStdout } from "@starter/platform-shared/Stderr"
import * as Effect from "effect/Effect"
import type { CliOptions } from "./CliOptions.js"
import { type Reply, request } from "./ControlClient.js"
import { exitWithMessage, isAlive, readPid, sendSignal, WrapperError } from "./PidFileReader.js"
import { waitUntil } from "./Wait.js"

/** Done once the process has exited (it removes its pid file on the way out). */
const stopped = (pid: number) => () => !isAlive(pid)

export const stop = (options: CliOptions): Effect.Effect<number> =>
  Effect.gen(function* () {
    const pidFile = options.pidFile ?? ""
    const pid = yield* readPid(pidFile)
    yield* Effect.sync(() => writeStderr(`stop_server (pid:${process.pid}) stopping now (pid:${pid})...\n`))
    yield* sendSignal(pid, "TERM")
    const done = yield* waitUntil(stopped(pid), options.timeoutMs)
    if (!done) {
      return yield* new WrapperError({
        message: `start_server (pid:${pid}) has not exited after ${(options.timeoutMs ?? 0) / 1000} secs`,
        exitCode: 124
      })
    }
    return 0
  }).pipe(exitWithMessage)

/**
 * `start_server stop`: through the control socket, answered once every worker is gone and
 * the supervisor exits; returns only after that (and, given `--pid-file`, once that pid is
 * gone too).
 */
export const stopCommand = (options: CliOptions, socket: string): Effect.Effect<number> =>
  Effect.gen(function* () {
    const pid = options.pidFile === undefined ? undefined : yield* Effect.option(readPid(options.pidFile))
    const answered = yield* request(socket, { cmd: "stop", wait: true }).pipe(
      // The supervisor may close the connection as it exits, before its reply is flushed.
      Effect.catchIf(
        (e) => e.message.endsWith("closed the connection without answering"),
        (): Effect.Effect<Reply> => Effect.succeed({ ok: true, result: { stopped: true } })
      ),
      Effect.timeoutOption(options.timeoutMs ?? Number.POSITIVE_INFINITY)
    )
    if (answered._tag === "None") {
      return yield* new WrapperError({
        message: `start_server has not stopped after ${(options.timeoutMs ?? 0) / 1000} secs`,
        exitCode: 124
      })
    }
    if (answered.value.ok !== true) {
      return yield* new WrapperError({ message: answered.value.error ?? "stop failed", exitCode: 1 })
    }
    if (pid !== undefined && pid._tag === "Some") yield* waitUntil(stopped(pid.value), 10_000)
    if (options.json) writeStdout(`${JSON.stringify(answered.value.result)}\n`)
    else writeStdout("stopped\n")
    return 0
  }).pipe(exitWithMessage)
