/**
 * The supervisor as a layer for Effect applications: `StarterLive(options)` binds the
 * sockets, runs the workers and stops them when the layer's scope closes. The application
 * gets the `Starter` service (restart, restartAndWait, shutdown, status, events).
 */
import { type InvalidOptions, Starter, type StarterOptions, toStarterConfig } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeStarterServices from "./NodeStarterServices.js"

/**
 * The running supervisor as a layer. The options are checked when the layer is built:
 * whatever is wrong with them fails it with an `InvalidOptions`, before anything is bound.
 */
export const StarterLive = (
  options: StarterOptions,
  live: Pick<NodeStarterServices.ServiceOptions, "handleSignals"> = {}
): Layer.Layer<Starter.Starter, Starter.StarterError | InvalidOptions> =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.suspend(() => toStarterConfig(options, process.pid)),
      (config) =>
        Starter.layer(config).pipe(
          Layer.provide(
            NodeStarterServices.layer({
              statusFile: options.statusFile,
              envdir: options.envdir,
              jsonStatusFile: options.jsonStatusFile,
              metricsFile: options.metricsFile,
              ...live
            })
          )
        )
    )
  )
