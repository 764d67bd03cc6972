/**
 * `start_server --stop`: send TERM to the running start_server, then wait until it has
 * exited. Perl blocks on the pid file's flock, released when the server exits; we watch
 * the process itself, which works the same against Perl's start_server.
 */
import * as Effect from "effect/Effect"
import type { CliOptions } from "./CliOptions.js"
import { exitWithMessage, isAlive, readPid, sendSignal, WrapperError } from "./PidFileReader.js"
import { waitUntil } from "./Wait.js"

/** Done once the process has exited (it removes its pid file on the way out). */
const stopped = (pid: number) => () => !isAlive(pid)

export const stop = (options: CliOptions): Effect.Effect<number> =>
  Effect.gen(function* () {
    const pidFile = options.pidFile ?? ""
    const pid = yield* readPid(pidFile)
    yield* Effect.sync(() => process.stderr.write(`stop_server (pid:${process.pid}) stopping now (pid:${pid})...\n`))
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
