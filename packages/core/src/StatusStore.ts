/**
 * Port: the `--status-file` (`gen:pid` lines). Writes are atomic (temp file + rename);
 * the file is removed at the end only if this supervisor wrote it.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

export class StatusWriteError extends Data.TaggedError("StatusWriteError")<{ readonly message: string }> {}

export class StatusStore extends Context.Tag("@starter/core/StatusStore")<
  StatusStore,
  {
    readonly write: (content: string) => Effect.Effect<void, StatusWriteError>
  }
>() {}
