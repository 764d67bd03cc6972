/**
 * The supervisor's timers as data: what is due when, in one sorted list, and one fiber that
 * sleeps until the earliest. A restart schedules a readiness deadline that usually never
 * matters (the worker is ready long before); as a list entry it costs a few bytes until it
 * falls due, where a sleeping fiber per timer held kilobytes for a minute each.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"

export interface Agenda<A> {
  /** `item` is delivered once `delayMs` has passed; items due together, in the order scheduled. */
  readonly schedule: (delayMs: number, item: A) => Effect.Effect<void>
}

/** Effect's live timers never fire past 2^31-1 ms (24.8 days); Perl's `sleep` has no limit. */
const maxTimerMs = 2 ** 31 - 1
const sleepMs = (ms: number): Effect.Effect<void> =>
  ms <= maxTimerMs
    ? Effect.sleep(ms)
    : Effect.zipRight(
        Effect.sleep(maxTimerMs),
        Effect.suspend(() => sleepMs(ms - maxTimerMs))
      )

interface Entry<A> {
  readonly at: number
  readonly item: A
}

export const make = <A>(deliver: (item: A) => Effect.Effect<void>): Effect.Effect<Agenda<A>, never, Scope.Scope> =>
  Effect.gen(function* () {
    // Sorted by due time; an entry goes after those due at the same time (insertion order).
    const entries: Array<Entry<A>> = []
    const changed = yield* Queue.sliding<void>(1)
    const fireDue = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      while (entries.length > 0 && entries[0]!.at <= now) yield* deliver(entries.shift()!.item)
      return entries[0] === undefined ? undefined : entries[0].at - now
    })
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.flatMap(fireDue, (wait) =>
          // A new entry may be due sooner than the one we sleep for: it wakes us.
          wait === undefined ? Queue.take(changed) : Effect.raceFirst(sleepMs(wait), Queue.take(changed))
        )
      )
    )
    return {
      schedule: (delayMs, item) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const at = now + Math.max(0, delayMs)
          let i = entries.length
          while (i > 0 && entries[i - 1]!.at > at) i--
          entries.splice(i, 0, { at, item })
          return Queue.offer(changed, undefined)
        })
    }
  })
