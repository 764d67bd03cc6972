/**
 * The worker environment with Perl's envdir layering: inherited environment, then the envdir
 * as it was at startup, then the envdir as it is now (Starter.pm L57-59 and L345-347).
 *
 * The startup layer is why a deleted file does not unset its variable: the variable reverts
 * to the value the file had when the supervisor started (perl-start_server.md §7.5, §15.18).
 * Surprising, but it is what Perl 0.35 does, and we keep it.
 */

import * as fs from "node:fs"
import { WorkerEnvironment } from "@starter/core"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ByteEnv from "./ByteEnv.js"
import { type Env, overlay, readEnvdir } from "./Envdir.js"

/** The environment as execve handed it to this process, bytes and all (Linux). */
const selfEnviron = (): Buffer | undefined => {
  try {
    return fs.readFileSync("/proc/self/environ")
  } catch {
    return undefined
  }
}

export interface Options {
  /** The `--envdir` / `ENVDIR` directory; `undefined` means no overlay at all. */
  readonly envdir: string | undefined
  /** The inherited environment; defaults to `process.env` as it is when the layer is built. */
  readonly base?: Readonly<Record<string, string | undefined>>
}

/** Reads the startup overlay now; `reload` reads the envdir again each time it runs. */
export const make = (options: Options): Context.Tag.Service<WorkerEnvironment.WorkerEnvironment> => {
  const { envdir } = options
  const base: Env = overlay(options.base ?? ByteEnv.withInheritedBytes(process.env, selfEnviron()))
  if (envdir === undefined) {
    const fixed = Effect.succeed(base)
    return WorkerEnvironment.WorkerEnvironment.of({ current: fixed, reload: fixed })
  }
  const startup = readEnvdir(envdir)
  let current: Env = overlay(base, startup)
  return WorkerEnvironment.WorkerEnvironment.of({
    current: Effect.sync(() => current),
    reload: Effect.sync(() => {
      current = overlay(base, startup, readEnvdir(envdir))
      return current
    })
  })
}

export const layer = (options: Options): Layer.Layer<WorkerEnvironment.WorkerEnvironment> =>
  Layer.sync(WorkerEnvironment.WorkerEnvironment, () => make(options))
