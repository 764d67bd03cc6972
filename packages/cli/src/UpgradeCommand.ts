/**
 * `start_server upgrade [--binary=PATH]`: hands the running service over to a new supervisor
 * process (the program the running one was started from, or PATH) without refusing a
 * connection, and waits for the outcome: the new one serves and the old one has exited, or
 * the new one failed and the old one keeps serving.
 */
import * as path from "node:path"
import * as ControlReplies from "@starter/core/ControlReplies"
import * as Upgrade from "@starter/core/Upgrade"
import * as Pid1StandIn from "@starter/platform-shared/Pid1StandIn"
import { writeStdout } from "@starter/platform-shared/Stderr"
import * as Effect from "effect/Effect"
import type { CliOptions } from "./CliOptions.js"
import { ask, decode, type Reply, request } from "./ControlClient.js"
import { exitWithMessage, isAlive, WrapperError } from "./PidFileReader.js"
import { waitUntil } from "./Wait.js"

/** Exit statuses, as `--help` lists them. */
export const exitCodes = { completed: 0, failed: 10, busy: 11, stopping: 12, timeout: 124 } as const

const interrupted = new WrapperError({
  message: "upgrade interrupted: start_server is stopping",
  exitCode: exitCodes.stopping
})

/** What the supervisor may spend beyond the readiness wait: the confirmation, stopping a failed one. */
const slackMs = Upgrade.commitTimeoutMs + 30_000

export const upgradeCommand = (
  options: CliOptions,
  args: ReadonlyArray<string>,
  socket: string
): Effect.Effect<number> =>
  Effect.gen(function* () {
    if (args.length > 0) {
      return yield* new WrapperError({ message: "usage: start_server upgrade [--binary=PATH]", exitCode: 2 })
    }
    const timeoutMs = options.timeoutMs ?? Upgrade.defaultReadyTimeoutMs
    const binary = options.binary === undefined ? undefined : path.resolve(options.binary)
    // Who answers now: the old supervisor may exit before its reply is flushed (its workers
    // gone at once); then the new one, answering on the same socket, says how it went.
    const supervisorPid = Effect.map(ask({}, socket, { cmd: "status" }, ControlReplies.Status), (status) => ({
      pid: status.supervisor?.pid,
      version: status.supervisor?.version,
      generation: status.servingGeneration
    }))
    const before = yield* supervisorPid
    const reply = yield* request(socket, { cmd: "upgrade", binary, timeoutMs }).pipe(
      Effect.catchIf(
        (e) => e.message.endsWith("closed the connection without answering"),
        (error) =>
          Effect.flatMap(
            // Nobody answers any more: the supervisor stopped (TERM) with the upgrade under way.
            Effect.catchAll(supervisorPid, () => Effect.fail(interrupted)),
            (after): Effect.Effect<Reply, WrapperError> =>
              after.pid === undefined || after.pid === before.pid
                ? Effect.fail(error)
                : Effect.succeed({
                    ok: true,
                    result: {
                      outcome: "completed",
                      pid: after.pid,
                      previousPid: before.pid ?? 0,
                      version: after.version ?? "",
                      generation: after.generation ?? 0
                    }
                  })
          )
      ),
      Effect.timeoutOption(timeoutMs + slackMs)
    )
    if (reply._tag === "None") {
      return yield* new WrapperError({
        message: `the upgrade did not finish within ${(timeoutMs + slackMs) / 1000} secs`,
        exitCode: exitCodes.timeout
      })
    }
    if (reply.value.ok !== true) {
      return yield* new WrapperError({ message: reply.value.error ?? "upgrade refused", exitCode: 1 })
    }
    const result = yield* decode(ControlReplies.Upgrade, socket, reply.value.result)
    switch (result.outcome) {
      case "failed":
        return yield* new WrapperError({
          message: `upgrade failed: ${result.reason}; the old supervisor keeps serving`,
          exitCode: exitCodes.failed
        })
      case "busy":
        return yield* new WrapperError({ message: `upgrade refused: ${result.reason}`, exitCode: exitCodes.busy })
      case "stopping":
        // Stopping before it began, or stopped while it was under way (the new supervisor is
        // stopped too): either way nothing serves on.
        return yield* interrupted
    }
    // The old supervisor retires its workers as a restart does, then exits; as PID 1 (asked
    // from its own PID namespace, as `kubectl exec` does) it stays as a stand-in init, whose
    // one child is then the new supervisor.
    const standsIn = result.previousPid === 1
    const retired = standsIn
      ? () => Pid1StandIn.children(1).every((pid) => pid === result.pid)
      : () => !isAlive(result.previousPid)
    const done = yield* waitUntil(retired, timeoutMs)
    if (options.json) {
      writeStdout(
        `${JSON.stringify({ ...result, previousExited: done && !standsIn, ...(standsIn ? { previousStandsIn: done } : {}) })}\n`
      )
    } else {
      writeStdout(
        `upgrade: start_server${result.version === "" ? "" : ` ${result.version}`} (pid ${result.pid}) serves generation ${result.generation}; ` +
          (!done
            ? `start_server (pid ${result.previousPid}) is still retiring its workers\n`
            : standsIn
              ? "start_server (pid 1) has retired its workers and stands in as init\n"
              : `start_server (pid ${result.previousPid}) has exited\n`)
      )
    }
    return exitCodes.completed
  }).pipe(exitWithMessage)
