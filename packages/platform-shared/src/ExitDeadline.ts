/**
 * The last step of "TERM always ends the supervisor within --kill-timeout plus a second":
 * once the state machine has finished (every worker gone, at the latest --kill-timeout after
 * TERM), tearing down the rest (the control socket's clients, files, the log's last lines)
 * gets one second. A raw timer rather than an Effect: it must fire even when something the
 * teardown waits for never answers, and it needs nothing but the event loop.
 */
import * as fs from "node:fs"
import * as Effect from "effect/Effect"

/** How long the teardown after the machine's exit may take before the process exits anyway. */
export const teardownMs = 1000

/**
 * Says why, if that cannot wait: fd 2 may be a logger's pipe that nobody reads, where a write
 * would block this thread, or one in the thread pool the exit (which joins the pool). So only
 * to a file or a terminal, or to a non-blocking fd in one attempt.
 */
const tell = (line: string, isNonBlocking: (fd: number) => boolean): void => {
  try {
    const stat = fs.fstatSync(2)
    if (stat.isFile() || stat.isCharacterDevice() || isNonBlocking(2)) fs.writeSync(2, line)
  } catch {
    // full, closed or gone: the exit matters more than the line
  }
}

/** Arms the deadline: the process exits with `code` in `ms`, unless it has exited before. */
export const arm = (
  code: number,
  libc: { readonly isNonBlocking: (fd: number) => boolean },
  ms = teardownMs
): Effect.Effect<void> =>
  Effect.sync(() => {
    setTimeout(() => {
      tell(`shutdown did not finish within ${ms / 1000} s of the last worker's exit; exiting now\n`, libc.isNonBlocking)
      process.exit(code)
    }, ms)
  })
