/**
 * A restart through the control socket: the supervisor itself says how the rollout ended,
 * for `start_server restart` (which prints it) and `start_server --restart --control-socket`.
 */
import * as ControlReplies from "@starter/core/ControlReplies"
import { writeStdout } from "@starter/platform-shared/Stderr"
import * as Effect from "effect/Effect"
import type { CliOptions } from "./CliOptions.js"
import { decode, request } from "./ControlClient.js"
import { exitWithMessage, WrapperError } from "./PidFileReader.js"
import { defaultTimeoutMs } from "./Restart.js"

/** Exit statuses of `--restart --control-socket`, which knows how the rollout ended. */
export const exitCodes = { ready: 0, failed: 10, superseded: 11, stopping: 12, timeout: 124 } as const

/** Through the control socket: the supervisor itself says whether the restart worked. */
export const restartViaControl = (
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
    if (options.json) writeStdout(`${JSON.stringify(result)}\n`)
    else if (result.outcome === "ready") writeStdout(`restart: ready, generation ${result.generation} serves\n`)
  }).pipe(exitWithMessage)
