/**
 * Port: the base environment of the next worker. Re-read before every spawn, so an
 * `--envdir` change reaches the next generation (daemontools semantics).
 */
import { Context, type Effect } from "effect"

export class WorkerEnvironment extends Context.Tag("@starter/core/WorkerEnvironment")<
  WorkerEnvironment,
  {
    readonly load: Effect.Effect<Readonly<Record<string, string>>>
  }
>() {}
