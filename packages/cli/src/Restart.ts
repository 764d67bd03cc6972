/**
 * `start_server --restart`: HUP the running start_server and wait until the status file
 * lists only generations newer than the ones it listed before, i.e. the new generation
 * serves alone. Perl waits for exactly `max + 1` and hangs forever when an attempt fails
 * (failures consume generation numbers) or another restart overlaps; this cannot, and it
 * gives up after --timeout (default 60 s) with a clear status.
 */
import * as fs from "node:fs"
import { ControlReplies } from "@starter/core"
import * as Effect from "effect/Effect"
import type { CliOptions } from "./CliOptions.js"
import { decode, request } from "./ControlClient.js"
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

/** Exit statuses of `--restart --control-socket`, which knows how the rollout ended. */
export const exitCodes = { ready: 0, failed: 10, superseded: 11, stopping: 12, timeout: 124 } as const

/** Through the control socket: the supervisor itself says whether the restart worked. */
const restartViaControl = (
  options: CliOptions,
  path: string,
  print: (result: ControlReplies.Restart) => void = () => {}
) =>
  Effect.gen(function* () {
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
    // Only the timeout becomes None: an unreachable socket or a vanished supervisor is an error.
    const reply = yield* request(path, { cmd: "restart" }).pipe(Effect.timeoutOption(timeoutMs))
    if (reply._tag === "None") {
      return yield* new WrapperError({
        message: `the restart did not finish within ${timeoutMs / 1000} secs`,
        exitCode: exitCodes.timeout
      })
    }
    if (reply.value.ok !== true) {
      return yield* new WrapperError({ message: reply.value.error ?? "restart failed", exitCode: 1 })
    }
    const result = yield* decode(ControlReplies.Restart, path, reply.value.result)
    if (result.outcome === "requested") {
      return yield* new WrapperError({ message: `bad reply from ${path}: not waited for`, exitCode: 1 })
    }
    print(result)
    if (result.outcome !== "ready") {
      const detail = result.outcome === "failed" ? `: ${result.reason}` : ""
      return yield* new WrapperError({
        message: `restart ${result.outcome}${detail}`,
        exitCode: exitCodes[result.outcome]
      })
    }
    return exitCodes.ready
  })

/** `start_server restart`: as `--restart --control-socket`, and it says how it went. */
export const restartCommand = (options: CliOptions, socket: string): Effect.Effect<number> =>
  restartViaControl(options, socket, (result) => {
    // Any other outcome is the error line on stderr, with its exit status.
    if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
    else if (result.outcome === "ready")
      process.stdout.write(`restart: ready, generation ${result.generation} serves\n`)
  }).pipe(exitWithMessage)

export const restart = (options: CliOptions): Effect.Effect<number> =>
  Effect.gen(function* () {
    if (options.controlSocket !== undefined) return yield* restartViaControl(options, options.controlSocket)
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
