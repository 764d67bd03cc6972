/**
 * Port: the control socket's transport. Each received line is handed to `handleLine`,
 * and every line of the stream it returns is written back on the same connection.
 *
 * When the scope closes, `closing` completes and the streams in progress get a short, bounded
 * time to end before their connections are ended: a stream that never ends by itself (`logs
 * -f`) ends then, after what it holds, so that a client gets every last line.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"

export class ControlServerError extends Data.TaggedError("ControlServerError")<{
  readonly message: string
  readonly errno: number | undefined
}> {}

export class ControlServer extends Context.Tag("@starter/core/ControlServer")<
  ControlServer,
  {
    /** Listens at `path` (mode 0600) until the scope closes. */
    readonly listen: (
      path: string,
      handleLine: (line: string, closing: Effect.Effect<void>) => Stream.Stream<string>
    ) => Effect.Effect<void, ControlServerError, Scope.Scope>
  }
>() {}
