/**
 * `start_server [options] -- program args…`: run the supervisor in this process until
 * TERM or INT, with the live Node layers behind every port of @starter/core.
 */
import { Starter, StatusStore } from "@starter/core"
import {
  Envdir,
  NodeListenSockets,
  NodeLogger,
  NodePidFile,
  NodeProcessSpawner,
  NodeSignalSource,
  NodeStatusStore,
  NodeWorkerEnvironment
} from "@starter/platform-node"
import { Effect, Either, Layer } from "effect"
import type { CliOptions } from "./CliOptions.js"
import { environmentFromOptions, toStarterConfig } from "./StarterConfigFromCli.js"

const printError = (message: string) => Effect.sync(() => process.stderr.write(`${message}\n`))

const statusStoreLayer = (path: string | undefined): Layer.Layer<StatusStore.StatusStore> =>
  path === undefined
    ? Layer.succeed(StatusStore.StatusStore, StatusStore.StatusStore.of({ write: () => Effect.void }))
    : NodeStatusStore.layer(path)

/** Answers the process exit code. */
export const serve = (options: CliOptions): Effect.Effect<number> =>
  Effect.gen(function* () {
    // Perl copies these options into %ENV: workers inherit them and the tunables read them.
    Object.assign(process.env, environmentFromOptions(options))
    const envdir = process.env.ENVDIR
    // The startup envdir also applies to the supervisor's own tunables (Perl 0.35, PR #51).
    const startupEnv = { ...process.env, ...(envdir === undefined ? {} : Envdir.readEnvdir(envdir)) }
    const config = toStarterConfig(options, startupEnv, process.pid)
    if (Either.isLeft(config)) {
      yield* printError(config.left.message)
      return config.left.exitCode
    }
    yield* printError(`start_server (pid:${process.pid}) starting now...`)
    const layers = Layer.mergeAll(
      NodeListenSockets.layer,
      NodePidFile.layer,
      NodeProcessSpawner.layer,
      NodeSignalSource.layer,
      statusStoreLayer(options.statusFile),
      NodeWorkerEnvironment.layer({ envdir })
    )
    return yield* Starter.run(config.right).pipe(
      // Perl's die: errno becomes the exit status (EADDRINUSE → 98), else 255.
      Effect.catchAll((error) => Effect.as(printError(error.message), error.errno ?? 255)),
      Effect.provide(layers)
    )
  }).pipe(Effect.provide(NodeLogger.layer(options.logFormat ?? "text")))
