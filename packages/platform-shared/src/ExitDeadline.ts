/**
 * The last step of "TERM always ends the supervisor within --kill-timeout plus a second":
 * once the state machine has finished (every worker gone, at the latest --kill-timeout after
 * TERM), tearing down the rest (the control socket's clients, files, listeners) gets one
 * second. A raw timer rather than an Effect: it must fire even when something the teardown
 * waits for never answers, and it needs nothing but the event loop.
 */
import * as Effect from "effect/Effect"
import { writeStderr } from "./Stderr.js"

/** How long the teardown after the machine's exit may take before the process exits anyway. */
export const teardownMs = 1000

/** Arms the deadline: the process exits with `code` in `ms`, unless it has exited before. */
export const arm = (code: number, ms = teardownMs): Effect.Effect<void> =>
  Effect.sync(() => {
    setTimeout(() => {
      writeStderr(`shutdown did not finish within ${ms / 1000} s of the last worker's exit; exiting now\n`)
      process.exit(code)
    }, ms)
  })
