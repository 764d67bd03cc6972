/** Every port of @starter/core's Starter on the runtime this start_server runs on (`Runtime`). */
import type { Starter } from "@starter/core"
import * as BunStarterServices from "@starter/platform-bun/BunStarterServices"
import * as NodeStarterServices from "@starter/platform-node/NodeStarterServices"
import type * as Libc from "@starter/platform-shared/Libc"
import * as StarterServices from "@starter/platform-shared/StarterServices"
import type * as Layer from "effect/Layer"
import { isBun } from "./Runtime.js"

/** What the runtime this start_server runs on implements itself. */
export const runtime: StarterServices.Runtime = isBun ? BunStarterServices.runtime : NodeStarterServices.runtime

/** The `Libc` service on the runtime this start_server runs on. */
export const libcLayer: Layer.Layer<Libc.Libc> = isBun ? BunStarterServices.libcLayer : NodeStarterServices.libcLayer

export const layer = (options: StarterServices.ServiceOptions): Layer.Layer<Starter.StarterServices> =>
  StarterServices.layer(runtime, options)
