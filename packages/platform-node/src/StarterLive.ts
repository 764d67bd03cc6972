/** The supervisor as a layer for Effect applications on Node (see platform-shared's `StarterLive`). */
import * as Shared from "@starter/platform-shared/StarterLive"
import * as NodeStarterServices from "./NodeStarterServices.js"

export const { StarterLive, layerConfig } = Shared.make(NodeStarterServices.runtime)
