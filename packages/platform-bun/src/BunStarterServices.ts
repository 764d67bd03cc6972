/**
 * Every port of @starter/core's Starter under Bun (see `StarterServices`). Orphans are not
 * adopted yet: `OrphanReaper` is Node's (it tells Node's own children by their ChildProcess).
 */
import type { Starter } from "@starter/core"
import * as StarterServices from "@starter/platform-shared/StarterServices"
import * as Layer from "effect/Layer"
import * as BunLibc from "./BunLibc.js"
import * as BunProcessSpawner from "./BunProcessSpawner.js"

export type ServiceOptions = StarterServices.ServiceOptions

export const runtime: StarterServices.Runtime = {
  libc: BunLibc.layer,
  spawner: BunProcessSpawner.layerWith,
  orphanReaper: Layer.empty
}

export const layer = (options: ServiceOptions): Layer.Layer<Starter.StarterServices> =>
  StarterServices.layer(runtime, options)
