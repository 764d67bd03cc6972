/**
 * The supervisor as a layer for Effect applications, on a given runtime: `StarterLive(options)`
 * binds the sockets, runs the workers and stops them when the layer's scope closes. The
 * application gets the `Starter` service (restart, restartAndWait, shutdown, status, events,
 * upgrade). Each platform exports it made with its runtime (`NodeStarterServices.runtime`, …).
 */
import {
  type InvalidOptions,
  optionsFromConfig,
  Starter,
  type StarterOptions,
  Successor,
  toStarterConfig,
  warnings
} from "@starter/core"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Handover from "./Handover.js"
import * as Libc from "./Libc.js"
import * as StarterServices from "./StarterServices.js"
import * as Takeover from "./Takeover.js"

/** How `upgrade` starts a new process of the application (`LiveOptions.upgrade`). */
export interface UpgradeOptions {
  /**
   * The program the new process runs, on this process's runtime (its `execPath` and
   * `execArgv`). Default: this process's script (`process.argv[1]`). `upgrade({ binary })`
   * starts another program instead, that once: an executable file runs itself.
   */
  readonly program?: string | undefined
  /** Its arguments. Default: this process's (`process.argv.slice(2)`). */
  readonly args?: ReadonlyArray<string> | undefined
  /** This build's version, as `status` and the outcome of an upgrade to it report it. */
  readonly version?: string | undefined
}

export interface LiveOptions extends Pick<StarterServices.ServiceOptions, "handleSignals"> {
  /**
   * Lets `Starter.upgrade` (and USR2 with `handleSignals`, `start_server upgrade` with a
   * `controlSocket`) hand the service over to a new process of the application, as
   * `start_server upgrade` does, with no connection refused: this process starts it as its
   * child with every socket, the pid file's lock and the control socket; in it, the same
   * `StarterLive` takes them over instead of binding, and its first generation continues the
   * numbering. Once that generation serves, this process's workers retire and its
   * supervisor's `exitCode` completes: the application should then exit (its layer's scope
   * closing removes none of the files the new process owns now). If the new process fails,
   * it is stopped and this one serves on. Without this option, `upgrade` fails, saying why.
   */
  readonly upgrade?: UpgradeOptions | undefined
}

export const make = (runtime: StarterServices.Runtime) => {
  /** The takeover, in a process that an upgrade started; `undefined` in any other. */
  const takeover: Effect.Effect<StarterServices.Takeover | undefined, Successor.SuccessorError> = Effect.flatMap(
    Effect.provide(Libc.Libc, runtime.libc),
    (libc) => {
      const taken = Takeover.forStarterServices(libc, runtime.readPipe)
      if (taken === undefined) return Effect.succeed(undefined)
      return Either.match(taken, {
        onLeft: (message) => Effect.fail(new Successor.SuccessorError({ message })),
        onRight: Effect.succeed
      })
    }
  )

  /**
   * The running supervisor as a layer. The options are checked when the layer is built:
   * whatever is wrong with them fails it with an `InvalidOptions`, before anything is bound.
   * In a process that an upgrade started (`LiveOptions.upgrade`), it takes the service over.
   */
  const StarterLive = (
    options: StarterOptions,
    live: LiveOptions = {}
  ): Layer.Layer<Starter.Starter, Starter.StarterError | InvalidOptions | Successor.SuccessorError> =>
    Layer.unwrapEffect(
      Effect.gen(function* () {
        const taken = yield* takeover
        // A new process listens on what the old one did, and continues its generations.
        const listening =
          taken === undefined ? options : { ...options, ports: [...taken.ports], paths: [...taken.paths] }
        const checked = yield* Effect.suspend(() => toStarterConfig(listening, process.pid))
        const version = live.upgrade?.version
        const config: Starter.StarterConfig = {
          ...checked,
          version,
          supervisor:
            taken === undefined
              ? checked.supervisor
              : { ...checked.supervisor, generationBase: taken.generation, workers: taken.workers }
        }
        // A new process owns none of the shared files until the old one hands them over.
        const handover = Handover.make(taken === undefined)
        const { upgrade } = live
        const services = StarterServices.layer(runtime, {
          statusFile: options.statusFile,
          envdir: options.envdir,
          jsonStatusFile: options.jsonStatusFile,
          metricsFile: options.metricsFile,
          handleSignals: live.handleSignals ?? false,
          handover,
          ...taken?.services,
          successor:
            upgrade === undefined
              ? undefined
              : {
                  argv: upgrade.args ?? process.argv.slice(2),
                  program: upgrade.program ?? process.argv[1] ?? "",
                  ports: listening.ports ?? [],
                  paths: listening.paths ?? [],
                  removePaths: taken?.services.adoptedRemovePaths ?? true,
                  notifySocket: taken?.services.notifySocket
                }
        })
        const running = Effect.tap(Starter.start(config), (supervisor) =>
          taken === undefined ? Effect.void : Effect.forkScoped(taken.run(supervisor, handover, version ?? ""))
        )
        return Layer.scoped(Starter.Starter, running).pipe(
          Layer.tap(() => Effect.forEach(warnings(options), (warning) => Effect.logWarning(warning))),
          Layer.provide(services)
        )
      })
    )

  /**
   * `StarterLive` with its options from Effect's `Config`: `STARTER_COMMAND`, `STARTER_PORTS`,
   * `STARTER_WORKERS`, … under the default provider (see core's `optionsFromConfig`).
   */
  const layerConfig = (
    live: LiveOptions = {}
  ): Layer.Layer<
    Starter.Starter,
    Starter.StarterError | InvalidOptions | Successor.SuccessorError | ConfigError.ConfigError
  > => Layer.unwrapEffect(Effect.map(optionsFromConfig, (options) => StarterLive(options, live)))

  return { StarterLive, layerConfig }
}
