/** Every port of @starter/core's Starter under Node (see `StarterServices`). */
import type { Starter, Successor } from "@starter/core"
import * as Libc from "@starter/platform-shared/Libc"
import * as StarterServices from "@starter/platform-shared/StarterServices"
import type * as Layer from "effect/Layer"
import * as NodeLibc from "./NodeLibc.js"
import * as NodePipe from "./NodePipe.js"
import * as NodeProcessSpawner from "./NodeProcessSpawner.js"

export type ServiceOptions = StarterServices.ServiceOptions

/** The `Libc` service under this runtime. */
export const libcLayer: Layer.Layer<Libc.Libc> = Libc.layer(NodeLibc.syscalls)

export const runtime: StarterServices.Runtime = {
  libc: libcLayer,
  spawner: NodeProcessSpawner.layerWith,
  readPipe: NodePipe.readPipe,
  acceptsOnInheritedSocket: true
}

export const layer = (options: ServiceOptions): Layer.Layer<Starter.StarterServices | Successor.Successor> =>
  StarterServices.layer(runtime, options)
