/** Every port of @starter/core's Starter under Bun (see `StarterServices`). */
import type { Starter } from "@starter/core"
import * as Libc from "@starter/platform-shared/Libc"
import * as StarterServices from "@starter/platform-shared/StarterServices"
import type * as Layer from "effect/Layer"
import * as BunLibc from "./BunLibc.js"
import * as BunPipe from "./BunPipe.js"
import * as BunProcessSpawner from "./BunProcessSpawner.js"

export type ServiceOptions = StarterServices.ServiceOptions

/** The `Libc` service under this runtime. */
export const libcLayer: Layer.Layer<Libc.Libc> = Libc.layer(BunLibc.syscalls)

export const runtime: StarterServices.Runtime = {
  libc: libcLayer,
  spawner: BunProcessSpawner.layerWith,
  readPipe: BunPipe.readPipe,
  // Bun cannot listen on a descriptor: its control socket passes to a new supervisor by rename.
  acceptsOnInheritedSocket: false
}

export const layer = (options: ServiceOptions): Layer.Layer<Starter.StarterServices> =>
  StarterServices.layer(runtime, options)
