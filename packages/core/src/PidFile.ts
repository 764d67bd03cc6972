/**
 * Port: the `--pid-file`. It is taken first, before any socket is bound, locked for the
 * supervisor's whole life (what `--stop` waits on), and removed when the scope closes.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

export class PidFileError extends Data.TaggedError("PidFileError")<{
  readonly message: string
  readonly errno: number | undefined
}> {}

export class PidFile extends Context.Tag("@starter/core/PidFile")<
  PidFile,
  {
    /**
     * Takes the lock and writes `"<pid>\n"`. Fails, leaving the file untouched, when another
     * live supervisor holds it.
     */
    readonly acquire: (path: string, pid: number) => Effect.Effect<void, PidFileError, Scope.Scope>
  }
>() {}
