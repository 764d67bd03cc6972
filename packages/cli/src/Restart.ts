/**
 * `start_server --restart`: HUP the running start_server and wait until the status file
 * lists only generations newer than the ones it listed before, i.e. the new generation
 * serves alone. Perl waits for exactly `max + 1` and hangs forever when an attempt fails
 * (failures consume generation numbers) or another restart overlaps; this cannot, and it
 * gives up after --timeout (default 60 s) with a clear status.
 */
import * as fs from "node:fs"
import * as Effect from "effect/Effect"
import type { CliOptions } from "./CliOptions.js"
import { exitWithMessage, isAlive, readPid, sendSignal, WrapperError } from "./PidFileReader.js"
import { waitUntil } from "./Wait.js"

export const defaultTimeoutMs = 60_000

/** Generations listed in a status file (`gen:pid` lines); `undefined` if it cannot be read. */
const generations = (statusFile: string): ReadonlyArray<number> | undefined => {
  try {
    return fs
      .readFileSync(statusFile, "utf8")
      .split("\n")
      .flatMap((line) => {
        const m = /^(\d+):/.exec(line)
        return m === null ? [] : [Number(m[1])]
      })
  } catch {
    return undefined
  }
}

export const restart = (options: CliOptions): Effect.Effect<number> =>
  Effect.gen(function* () {
    // Imported only then: the pid-file path needs no control-socket client (nor its Schemas).
    if (options.controlSocket !== undefined) {
      const { restartViaControl } = yield* Effect.promise(() => import("./RestartViaControl.js"))
      return yield* restartViaControl(options, options.controlSocket)
    }
    const pidFile = options.pidFile ?? ""
    const statusFile = options.statusFile ?? ""
    const pid = yield* readPid(pidFile)
    const before = generations(statusFile)
    if (before === undefined) {
      return yield* new WrapperError({
        message: `failed to open file:${statusFile}:No such file or directory`,
        exitCode: 2
      })
    }
    if (before.length === 0) {
      return yield* new WrapperError({ message: "no active process found in the status file", exitCode: 255 })
    }
    const newest = Math.max(...before)
    yield* sendSignal(pid, "HUP")
    let died = false
    const done = yield* waitUntil(() => {
      const now = generations(statusFile)
      if (!isAlive(pid)) died = true
      return died || (now !== undefined && now.length > 0 && now.every((g) => g > newest))
    }, options.timeoutMs ?? defaultTimeoutMs)
    if (died)
      return yield* new WrapperError({ message: `start_server (pid:${pid}) exited during the restart`, exitCode: 1 })
    if (!done) {
      const secs = (options.timeoutMs ?? defaultTimeoutMs) / 1000
      return yield* new WrapperError({
        message: `the new generation of start_server (pid:${pid}) did not take over within ${secs} secs`,
        exitCode: 124
      })
    }
    return 0
  }).pipe(exitWithMessage)
