/**
 * Every port of @starter/core's Starter, implemented for Node: what `StarterLive` runs the
 * supervisor on, and what the `start_server` binary provides to `Starter.start`.
 */
import { type ListenSockets, SignalSource, type Starter, StatusStore, type Successor } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { EarlySockets } from "./EarlyListen.js"
import * as Handover from "./Handover.js"
import * as NodeControlServer from "./NodeControlServer.js"
import * as NodeListenSockets from "./NodeListenSockets.js"
import * as NodePidFile from "./NodePidFile.js"
import * as NodeProcessSpawner from "./NodeProcessSpawner.js"
import * as NodeSignalSource from "./NodeSignalSource.js"
import * as NodeStatusObserver from "./NodeStatusObserver.js"
import * as NodeStatusStore from "./NodeStatusStore.js"
import * as NodeSuccessor from "./NodeSuccessor.js"
import * as NodeWorkerEnvironment from "./NodeWorkerEnvironment.js"
import * as OrphanReaper from "./OrphanReaper.js"
import type * as WorkerOutput from "./WorkerOutput.js"

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
  /**
   * Who owns the shared files (`start_server upgrade`, see Handover); default: this process.
   * A new supervisor taking over passes one it does not own yet, with what it inherited:
   */
  readonly handover?: Handover.Handover | undefined
  /** …the old supervisor's pid file descriptor, holding the lock, */
  readonly adoptedPidFile?: number | undefined
  /** …its control socket, */
  readonly adoptedControlSocket?: number | undefined
  /** …and whether the adopted sockets' files are ours to remove at the end (not systemd's). */
  readonly adoptedRemovePaths?: boolean | undefined
  /** How to start a new supervisor for `upgrade` (the `Successor` service); without it, none. */
  readonly successor?: Omit<NodeSuccessor.Options, "handover"> | undefined
}

const noSignals = Layer.succeed(SignalSource.SignalSource, SignalSource.SignalSource.of({ signals: Stream.never }))

const statusStore = (path: string | undefined, handover: Handover.Handover): Layer.Layer<StatusStore.StatusStore> =>
  path === undefined
    ? Layer.succeed(StatusStore.StatusStore, StatusStore.StatusStore.of({ write: () => Effect.void }))
    : NodeStatusStore.layer(path, handover)

const listenSockets = (
  options: ServiceOptions,
  handover: Handover.Handover
): Layer.Layer<ListenSockets.ListenSockets> => {
  if (options.systemdSockets !== undefined) {
    return NodeListenSockets.layerAdopted(options.systemdSockets, { removePaths: false })
  }
  if (options.adoptedSockets !== undefined) {
    return NodeListenSockets.layerAdopted(options.adoptedSockets, {
      removePaths: options.adoptedRemovePaths ?? true,
      owned: handover.owned
    })
  }
  if (options.earlySockets !== undefined) return NodeListenSockets.layerEarly(options.earlySockets, handover.owned)
  return NodeListenSockets.layerWith(handover.owned)
}

export const layer = (options: ServiceOptions): Layer.Layer<Starter.StarterServices | Successor.Successor> => {
  const handover = options.handover ?? Handover.owner()
  return Layer.mergeAll(
    listenSockets(options, handover),
    NodePidFile.layerWith({ handover, adopted: options.adoptedPidFile }),
    NodeProcessSpawner.layerWith({ output: options.workerOutput }),
    options.handleSignals === true ? NodeSignalSource.layer : noSignals,
    options.reapOrphans === true ? OrphanReaper.layer : Layer.empty,
    statusStore(options.statusFile, handover),
    NodeWorkerEnvironment.layer({ envdir: options.envdir }),
    NodeControlServer.layerWith({ idleTimeoutMs: 60_000, handover, adopted: options.adoptedControlSocket }),
    NodeStatusObserver.layer({
      jsonStatusFile: options.jsonStatusFile,
      metricsFile: options.metricsFile,
      notifySocket: options.notifySocket,
      handover
    }),
    options.successor === undefined ? NodeSuccessor.layerNone : NodeSuccessor.layer({ ...options.successor, handover })
  )
}
