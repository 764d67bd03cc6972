/**
 * Port: the base environment of the next worker. With `--envdir` it is read as Perl reads it:
 * at startup, then again each time Perl's main loop wakes up (`reload`, Starter.pm L345);
 * a spawn gets the environment as last read, so an envdir change reaches the workers
 * started after the next wake (daemontools semantics).
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

export class WorkerEnvironment extends Context.Tag("@starter/core/WorkerEnvironment")<
  WorkerEnvironment,
  {
    /** The environment as last read: what a worker spawned now gets. */
    readonly current: Effect.Effect<Readonly<Record<string, string>>>
    /** Reads the envdir again; answers the new environment, `current` from now on. */
    readonly reload: Effect.Effect<Readonly<Record<string, string>>>
  }
>() {}
