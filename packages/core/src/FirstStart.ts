/**
 * How the supervisor's first start ended, for a caller that waits for it: the foreground of
 * `--daemonize` exits 0 only once the first generation serves, and otherwise says why.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { explainFailure, type Lifecycle } from "./Lifecycle.js"
import * as Machine from "./Machine.js"
import * as Text from "./PerlText.js"
import type { Supervisor } from "./Supervisor.js"

export type Outcome = Data.TaggedEnum<{
  /** The first generation serves. */
  Serving: {}
  /** The supervisor exits (or has exited) without having served; `message` is its last word. */
  Exited: { readonly exitCode: number; readonly message: string }
  /** A first worker failed to start (`reason`, in words) and the supervisor keeps trying, as Perl's does. */
  Retrying: { readonly reason: string }
}>
export const Outcome = Data.taggedEnum<Outcome>()

/** What ends the wait, of the events since it began. */
const decisive = (event: Lifecycle) =>
  event._tag === "RolloutCompleted" || event._tag === "StartFailed" ? Option.some(event) : Option.none()

/** Waits for the first start's outcome; at once if it is already known. */
export const outcome = (supervisor: Supervisor): Effect.Effect<Outcome, never, Scope.Scope> =>
  Effect.gen(function* () {
    // Subscribed before looking at the state: nothing can happen unseen in between.
    const events = yield* supervisor.subscribe
    const before = yield* supervisor.state
    if (before.everReady) return Outcome.Serving()
    const first = Machine.isStopping(before) ? Option.none() : yield* Stream.runHead(Stream.filterMap(events, decisive))
    if (Option.isSome(first) && first.value._tag === "RolloutCompleted") return Outcome.Serving()
    // The failure's step has decided whether the supervisor stops: its state says so already
    // (and holds the failure, also when it came before the subscription).
    const after = yield* supervisor.state
    const failure = after.history.lastRestart.failure
    if (!Machine.isStopping(after)) {
      return Outcome.Retrying({ reason: failure === undefined ? "unknown" : explainFailure(failure) })
    }
    const exitCode = yield* supervisor.exitCode
    const message =
      failure?._tag === "SpawnFailed" && failure.unexecutable !== undefined
        ? Text.cannotRunAtFirstStart(failure.message)
        : `start_server exited with code ${exitCode} before any worker served${failure === undefined ? "" : ` (last failure: ${explainFailure(failure)})`}`
    return Outcome.Exited({ exitCode, message })
  })
