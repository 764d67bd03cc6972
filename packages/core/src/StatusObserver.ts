/**
 * Port: whoever wants every change of state, e.g. the JSON status file and the metrics
 * file. Called once at start (no event) and after every lifecycle event.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Lifecycle } from "./Lifecycle.js"
import type { StatusSnapshot } from "./StatusSnapshot.js"

export class StatusObserver extends Context.Tag("@starter/core/StatusObserver")<
  StatusObserver,
  {
    readonly observe: (status: StatusSnapshot, event: Lifecycle | undefined) => Effect.Effect<void>
  }
>() {}

export const layerNone: Layer.Layer<StatusObserver> = Layer.succeed(
  StatusObserver,
  StatusObserver.of({ observe: () => Effect.void })
)
