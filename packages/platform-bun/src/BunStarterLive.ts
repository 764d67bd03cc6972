/** `StarterLive` on Bun: the supervisor as a layer for Effect applications that run on Bun. */
import * as Shared from "@starter/platform-shared/StarterLive"
import * as BunStarterServices from "./BunStarterServices.js"

export const { StarterLive, layerConfig } = Shared.make(BunStarterServices.runtime)
