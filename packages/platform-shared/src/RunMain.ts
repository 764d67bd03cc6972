/**
 * Runs the supervisor program as the process. Unlike NodeRuntime.runMain it installs no
 * SIGINT/SIGTERM handlers of its own: the supervisor owns those signals (it must signal
 * the workers and wait for them), so they arrive through the SignalSource port instead.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/** Runs `program` and exits the process with the code it answers. */
export const runMain = (program: Effect.Effect<number>): void => {
  // The supervisor may have no active handles while it waits (all fds are raw): keep alive.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  Effect.runFork(program).addObserver((exit) => {
    clearInterval(keepAlive)
    if (Exit.isSuccess(exit)) return process.exit(exit.value)
    process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
    process.exit(70)
  })
}
