/**
 * Every port of @starter/core's Starter, from what each runtime implements (`Runtime`: libc,
 * the process spawner, orphan reaping) and what they share: what `StarterLive` runs the
 * supervisor on, and what the `start_server` binary provides to `Starter.start`.
 */
import {
  type ListenSockets,
  SignalSource,
  type ProcessSpawner as Spawner,
  type Starter,
  StatusStore
} from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { EarlySockets } from "./EarlyListen.js"
import type * as Libc from "./Libc.js"
import * as NodeControlServer from "./NodeControlServer.js"
import * as NodeListenSockets from "./NodeListenSockets.js"
import * as NodePidFile from "./NodePidFile.js"
import * as NodeSignalSource from "./NodeSignalSource.js"
import * as NodeStatusObserver from "./NodeStatusObserver.js"
import * as NodeStatusStore from "./NodeStatusStore.js"
import * as NodeWorkerEnvironment from "./NodeWorkerEnvironment.js"
import type * as WorkerOutput from "./WorkerOutput.js"

/** What a runtime implements itself. */
export interface Runtime {
  readonly libc: Layer.Layer<Libc.Libc>
  readonly spawner: (options: { readonly output: WorkerOutput.Sink | undefined }) => Layer.Layer<Spawner.ProcessSpawner>
  /** Adopts and reaps orphans (`ServiceOptions.reapOrphans`). */
  readonly orphanReaper: Layer.Layer<never>
}

export interface ServiceOptions {
  readonly statusFile: string | undefined
  readonly envdir: string | undefined
  /**
   * Whether this process's HUP/TERM/INT/QUIT drive the supervisor (the binary), or only the
   * service does (an embedding application that owns its signals). Default: false.
   */
  readonly handleSignals?: boolean
  /**
   * Adopt and reap the processes workers leave behind (`OrphanReaper`): only for a process
   * whose every child is spawned by the supervisor (the binary). Default: false.
   */
  readonly reapOrphans?: boolean
  /** Sockets already open in this process (a daemon's hand-off), instead of binding. */
  readonly adoptedSockets?: ReadonlyArray<number> | undefined
  /** Sockets the binary bound before loading the supervisor (`EarlyListen`). */
  readonly earlySockets?: EarlySockets | undefined
  /** Sockets handed down by systemd, in listen-spec order (`SocketActivation.adopt`); their paths are systemd's. */
  readonly systemdSockets?: ReadonlyArray<number> | undefined
  readonly jsonStatusFile?: string | undefined
  readonly metricsFile?: string | undefined
  readonly notifySocket?: string | undefined
  /** Where the workers' stdout and stderr lines go when tagged (`NodeLogs`); else they inherit ours. */
  readonly workerOutput?: WorkerOutput.Sink | undefined
}

const noSignals = Layer.succeed(SignalSource.SignalSource, SignalSource.SignalSource.of({ signals: Stream.never }))

const statusStore = (path: string | undefined): Layer.Layer<StatusStore.StatusStore> =>
  path === undefined
    ? Layer.succeed(StatusStore.StatusStore, StatusStore.StatusStore.of({ write: () => Effect.void }))
    : NodeStatusStore.layer(path)

const listenSockets = (options: ServiceOptions): Layer.Layer<ListenSockets.ListenSockets, never, Libc.Libc> => {
  if (options.systemdSockets !== undefined) {
    return NodeListenSockets.layerAdopted(options.systemdSockets, { removePaths: false })
  }
  if (options.adoptedSockets !== undefined) return NodeListenSockets.layerAdopted(options.adoptedSockets)
  if (options.earlySockets !== undefined) return NodeListenSockets.layerEarly(options.earlySockets)
  return NodeListenSockets.layer
}

export const layer = (runtime: Runtime, options: ServiceOptions): Layer.Layer<Starter.StarterServices> =>
  Layer.mergeAll(
    listenSockets(options),
    NodePidFile.layer,
    runtime.spawner({ output: options.workerOutput }),
    options.handleSignals === true ? NodeSignalSource.layer : noSignals,
    options.reapOrphans === true ? runtime.orphanReaper : Layer.empty,
    statusStore(options.statusFile),
    NodeWorkerEnvironment.layer({ envdir: options.envdir }),
    NodeControlServer.layer,
    NodeStatusObserver.layer({
      jsonStatusFile: options.jsonStatusFile,
      metricsFile: options.metricsFile,
      notifySocket: options.notifySocket
    })
  ).pipe(Layer.provide(runtime.libc))
