/** Polling for the wrapper commands (`--restart`, `--stop`), which watch another process. */
import * as Effect from "effect/Effect"

const pollMs = 50

/** True once `done()` holds; false if `timeoutMs` passes first (`undefined` = no limit). */
export const waitUntil = (done: () => boolean, timeoutMs: number | undefined): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs
    while (!done()) {
      if (Date.now() >= deadline) return false
      yield* Effect.sleep(pollMs)
    }
    return true
  })
