/** Polling for the wrapper commands (`--restart`, `--stop`), which watch another process. */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

const pollMs = 50

/** True once `done()` holds; false if `timeoutMs` passes first (`undefined` = no limit). */
export const waitUntil = (done: () => boolean, timeoutMs: number | undefined): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : start + timeoutMs
    while (!done()) {
      if ((yield* Clock.currentTimeMillis) >= deadline) return false
      yield* Effect.sleep(pollMs)
    }
    return true
  })
