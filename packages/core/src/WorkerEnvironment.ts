/**
 * Port: the base environment of the next worker. Re-read before every spawn, so an
 * `--envdir` change reaches the next generation (daemontools semantics).
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

export class WorkerEnvironment extends Context.Tag("@starter/core/WorkerEnvironment")<
  WorkerEnvironment,
  {
    readonly load: Effect.Effect<Readonly<Record<string, string>>>
  }
>() {}
