/**
 * Port: the control socket's transport. Each received line is handed to `handleLine`,
 * and every line of the stream it returns is written back on the same connection.
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
      handleLine: (line: string) => Stream.Stream<string>
    ) => Effect.Effect<void, ControlServerError, Scope.Scope>
  }
>() {}
