/**
 * start_server's supervisor for Effect 4 applications: the `Starter` service and its
 * `StarterLive(options)` layer, over `@starter/cli`'s promise API (which carries the
 * supervisor, built on Effect 3, in its bundle: the two majors never meet in one program).
 * Building the layer starts the supervisor; closing its scope stops the workers.
 */
import {
  type EmbedOptions,
  type RestartOutcome,
  type StarterEvent,
  type StarterOptions,
  type StatusSnapshot,
  start
} from "@starter/cli"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

export type { EmbedOptions, RestartOutcome, StarterEvent, StarterOptions, StatusSnapshot } from "@starter/cli"

/**
 * Why the supervisor did not start: the one line `start_server` would print. `reason` is
 * `InvalidOptions`, `ListenError`, `PidFileError`, `ControlServerError`, …
 */
export class StarterError extends Data.TaggedError("StarterError")<{
  readonly message: string
  readonly reason: string
  readonly field: string | undefined
  readonly errno: number | undefined
}> {}

const starterError = (error: unknown): StarterError => {
  const fields = (error ?? {}) as { reason?: unknown; field?: unknown; errno?: unknown; message?: unknown }
  return new StarterError({
    message: typeof fields.message === "string" ? fields.message : String(error),
    reason: typeof fields.reason === "string" ? fields.reason : "Unknown",
    field: typeof fields.field === "string" ? fields.field : undefined,
    errno: typeof fields.errno === "number" ? fields.errno : undefined
  })
}

/** The running supervisor. */
export interface StarterService {
  /** A rolling restart, waiting for its outcome (the old generation serves until the new one is ready). */
  readonly restartAndWait: Effect.Effect<RestartOutcome>
  readonly status: Effect.Effect<StatusSnapshot>
  /** Stops the workers and gives the sockets back, before the layer's scope closes. */
  readonly shutdown: Effect.Effect<void>
  /** Lifecycle events from the moment the stream runs; it ends after the supervisor's last one. */
  readonly events: Stream.Stream<StarterEvent>
  /** Completes once the supervisor has stopped (`shutdown`, or TERM with `handleSignals`). */
  readonly stopped: Effect.Effect<void>
}

export class Starter extends Context.Service<Starter, StarterService>()("@starter/effect4/Starter") {}

/**
 * The supervisor as a layer. Bad options, a socket that cannot be bound or a locked pid file
 * fail it with a `StarterError` before anything is left behind.
 */
export const StarterLive = (options: StarterOptions, embed?: EmbedOptions): Layer.Layer<Starter, StarterError> =>
  Layer.effect(
    Starter,
    Effect.map(
      Effect.acquireRelease(Effect.tryPromise({ try: () => start(options, embed), catch: starterError }), (handle) =>
        Effect.promise(() => handle.stop())
      ),
      (handle): StarterService => ({
        // A call on a supervisor that has stopped is a defect of the program that made it.
        restartAndWait: Effect.promise(() => handle.restart()),
        status: Effect.promise(() => handle.status()),
        shutdown: Effect.promise(() => handle.stop()),
        events: Stream.fromAsyncIterable(handle.events, starterError).pipe(Stream.orDie),
        stopped: Effect.promise(() => handle.stopped)
      })
    )
  )
