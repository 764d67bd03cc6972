/**
 * The supervisor as a layer for Effect applications, on a given runtime: `StarterLive(options)`
 * binds the sockets, runs the workers and stops them when the layer's scope closes. The
 * application gets the `Starter` service (restart, restartAndWait, shutdown, status, events).
 * Each platform exports it made with its runtime (`NodeStarterServices.runtime`, …).
 */
import {
  type InvalidOptions,
  optionsFromConfig,
  Starter,
  type StarterOptions,
  toStarterConfig,
  warnings
} from "@starter/core"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as StarterServices from "./StarterServices.js"

export type LiveOptions = Pick<StarterServices.ServiceOptions, "handleSignals">

export const make = (runtime: StarterServices.Runtime) => {
  /**
   * The running supervisor as a layer. The options are checked when the layer is built:
   * whatever is wrong with them fails it with an `InvalidOptions`, before anything is bound.
   */
  const StarterLive = (
    options: StarterOptions,
    live: LiveOptions = {}
  ): Layer.Layer<Starter.Starter, Starter.StarterError | InvalidOptions> =>
    Layer.unwrapEffect(
      Effect.map(
        Effect.suspend(() => toStarterConfig(options, process.pid)),
        (config) =>
          Starter.layer(config).pipe(
            Layer.tap(() => Effect.forEach(warnings(options), (warning) => Effect.logWarning(warning))),
            Layer.provide(
              StarterServices.layer(runtime, {
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

  /**
   * `StarterLive` with its options from Effect's `Config`: `STARTER_COMMAND`, `STARTER_PORTS`,
   * `STARTER_WORKERS`, … under the default provider (see core's `optionsFromConfig`).
   */
  const layerConfig = (
    live: LiveOptions = {}
  ): Layer.Layer<Starter.Starter, Starter.StarterError | InvalidOptions | ConfigError.ConfigError> =>
    Layer.unwrapEffect(Effect.map(optionsFromConfig, (options) => StarterLive(options, live)))

  return { StarterLive, layerConfig }
}
