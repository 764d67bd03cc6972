/**
 * Runs the supervisor program as the process, through @effect/platform's `makeRunMain`.
 * Unlike NodeRuntime.runMain it installs no SIGINT/SIGTERM handlers of its own: the
 * supervisor owns those signals (it must signal the workers and wait for them), so they
 * arrive through the SignalSource port instead. The same under Node and Bun.
 */
import { makeRunMain, type Teardown } from "@effect/platform/Runtime"
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { constVoid } from "effect/Function"
import { writeStderr } from "./Stderr.js"

/** The program's answer is the exit code; a defect is printed and exits 70 (EX_SOFTWARE). */
const teardown: Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit)) return onExit(typeof exit.value === "number" ? exit.value : 0)
  writeStderr(`${Cause.pretty(exit.cause)}\n`)
  onExit(70)
}

const run = makeRunMain(({ fiber, teardown }) => {
  // The supervisor may have no active handles while it waits (all fds are raw): keep alive.
  const keepAlive = setInterval(constVoid, 2 ** 31 - 1)
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    teardown(exit, (code) => process.exit(code))
  })
})

/** Runs `program` and exits the process with the code it answers. */
export const runMain = (program: Effect.Effect<number>): void =>
  run(program, { disableErrorReporting: true, disablePrettyLogger: true, teardown })
