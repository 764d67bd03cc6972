/**
 * `start_server --stop`: send TERM to the running start_server, then wait until it has
 * exited. Perl blocks on the pid file's flock; we watch for the pid file to disappear (a
 * server removes it last, once every worker is gone), which works against Perl's too.
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import type { CliOptions } from "./CliOptions.js"
import { isAlive, readPid, sendSignal, WrapperError } from "./PidFileReader.js"
import { waitUntil } from "./Wait.js"

/** The server is gone once its pid file is gone (it unlinks it last) or the process is. */
const stopped = (pidFile: string, pid: number) => () => !fs.existsSync(pidFile) || !isAlive(pid)

export const stop = (options: CliOptions): Effect.Effect<number> =>
  Effect.gen(function* () {
    const pidFile = options.pidFile ?? ""
    const pid = yield* readPid(pidFile)
    yield* Effect.sync(() => process.stderr.write(`stop_server (pid:${process.pid}) stopping now (pid:${pid})...\n`))
    yield* sendSignal(pid, "TERM")
    const done = yield* waitUntil(stopped(pidFile, pid), options.timeoutMs)
    if (!done) {
      return yield* new WrapperError({
        message: `start_server (pid:${pid}) has not exited after ${(options.timeoutMs ?? 0) / 1000} secs`,
        exitCode: 124
      })
    }
    return 0
  }).pipe(
    Effect.catchAll((error) =>
      Effect.sync(() => {
        process.stderr.write(`${error.message}\n`)
        return error.exitCode
      })
    )
  )
