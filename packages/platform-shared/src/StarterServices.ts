/**
 * Every port of @starter/core's Starter, from what each runtime implements (`Runtime`: libc,
 * the process spawner, reading a pipe) and what they share: what
 * `StarterLive` runs the supervisor on, and what the `start_server` binary provides to
 * `Starter.start`.
 */
import {
  type ListenSockets,
  SignalSource,
  type ProcessSpawner as Spawner,
  type Starter,
  StatusStore,
  Successor
} from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { EarlySockets } from "./EarlyListen.js"
import * as Handover from "./Handover.js"
import type * as Libc from "./Libc.js"
import * as NodeControlServer from "./NodeControlServer.js"
import * as NodeListenSockets from "./NodeListenSockets.js"
import * as NodePidFile from "./NodePidFile.js"
import * as NodeSignalSource from "./NodeSignalSource.js"
import * as NodeStatusObserver from "./NodeStatusObserver.js"
import * as NodeStatusStore from "./NodeStatusStore.js"
import * as NodeSuccessor from "./NodeSuccessor.js"
import * as NodeWorkerEnvironment from "./NodeWorkerEnvironment.js"
import * as OrphanReaper from "./OrphanReaper.js"
import type { ReadPipe } from "./PipeLines.js"
import type * as WorkerOutput from "./WorkerOutput.js"

/** What a runtime implements itself. */
export interface Runtime {
  readonly libc: Layer.Layer<Libc.Libc>
  readonly spawner: (options: { readonly output: WorkerOutput.Sink | undefined }) => Layer.Layer<Spawner.ProcessSpawner>
  /** Reads a pipe on the runtime's event loop: the two sides of an upgrade speak through pipes. */
  readonly readPipe: ReadPipe
  /**
   * Whether it can accept on a listening socket it did not bind itself (Node can, Bun cannot):
   * how the control socket passes to a new supervisor (see NodeControlServer).
   */
  readonly acceptsOnInheritedSocket: boolean
}

/**
 * A new supervisor taking over (`Takeover.forStarterServices`): it continues the old one's service on
 * what it inherited, binding nothing, and owns the shared files only once handed them.
 */
export interface Takeover {
  /** The old supervisor's pid, its last generation number and its number of workers. */
  readonly previousPid: number
  readonly generation: number
  readonly workers: number
  /** The `--port` and `--path` values of the inherited sockets, in their order. */
  readonly ports: ReadonlyArray<string>
  readonly paths: ReadonlyArray<string>
  /** What it inherited, for `layer` (given with a `handover` that it does not own yet). */
  readonly services: Pick<
    ServiceOptions,
    "adoptedSockets" | "adoptedRemovePaths" | "adoptedPidFile" | "adoptedControlSocket" | "notifySocket"
  >
  /** The protocol with the old supervisor, for the running supervisor (in its scope). */
  readonly run: (supervisor: Starter.Running, handover: Handover.Handover, version: string) => Effect.Effect<void>
}

/** What starting a new supervisor for `start_server upgrade` takes (`NodeSuccessor.layer`). */
export interface SuccessorOptions {
  readonly handover: Handover.Handover
  /** The command line after the program (this process's): the new one parses it afresh. */
  readonly argv: ReadonlyArray<string>
  /** The program this supervisor runs (`process.argv[1]`): the default binary. */
  readonly program: string
  /** The `--port` and `--path` values the sockets were made from, in their order. */
  readonly ports: ReadonlyArray<string>
  readonly paths: ReadonlyArray<string>
  /** False when systemd made the sockets: their files are its own. */
  readonly removePaths: boolean
  readonly notifySocket: string | undefined
  /**
   * As PID 1, this process stands in as init once it has handed over (`Pid1StandIn`, the
   * binary), so an upgrade may go ahead; without it one is refused there.
   */
  readonly pid1StandIn?: boolean | undefined
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
  readonly successor?: Omit<SuccessorOptions, "handover"> | undefined
}

const noSignals = Layer.succeed(SignalSource.SignalSource, SignalSource.SignalSource.of({ signals: Stream.never }))

const statusStore = (path: string | undefined, handover: Handover.Handover): Layer.Layer<StatusStore.StatusStore> =>
  path === undefined
    ? Layer.succeed(StatusStore.StatusStore, StatusStore.StatusStore.of({ write: () => Effect.void }))
    : NodeStatusStore.layer(path, handover)

const listenSockets = (
  options: ServiceOptions,
  handover: Handover.Handover
): Layer.Layer<ListenSockets.ListenSockets, never, Libc.Libc> => {
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

/** A supervisor that cannot start another: every upgrade fails, saying why. */
const noSuccessor = (reason: string): Layer.Layer<Successor.Successor> =>
  Layer.succeed(
    Successor.Successor,
    Successor.Successor.of({
      launch: () => Effect.fail(new Successor.SuccessorError({ message: reason })),
      relinquish: Effect.void,
      reclaim: Effect.void,
      closeControl: Effect.void
    })
  )

const successor = (
  runtime: Runtime,
  options: ServiceOptions,
  handover: Handover.Handover
): Layer.Layer<Successor.Successor, never, Libc.Libc> => {
  if (options.successor === undefined) return noSuccessor("this supervisor was given no program to upgrade to")
  return NodeSuccessor.layer(runtime.readPipe, { ...options.successor, handover })
}

export const layer = (
  runtime: Runtime,
  options: ServiceOptions
): Layer.Layer<Starter.StarterServices | Successor.Successor> => {
  const handover = options.handover ?? Handover.owner()
  return Layer.mergeAll(
    listenSockets(options, handover),
    NodePidFile.layerWith({ handover, adopted: options.adoptedPidFile }),
    runtime.spawner({ output: options.workerOutput }),
    options.handleSignals === true ? NodeSignalSource.layer : noSignals,
    options.reapOrphans === true ? OrphanReaper.layer : Layer.empty,
    statusStore(options.statusFile, handover),
    NodeWorkerEnvironment.layer({ envdir: options.envdir }),
    NodeControlServer.layerWith({
      idleTimeoutMs: 60_000,
      handover,
      acceptsOnInheritedSocket: runtime.acceptsOnInheritedSocket,
      adopted: options.adoptedControlSocket
    }),
    NodeStatusObserver.layer({
      jsonStatusFile: options.jsonStatusFile,
      metricsFile: options.metricsFile,
      notifySocket: options.notifySocket,
      handover
    }),
    successor(runtime, options, handover)
  ).pipe(Layer.provide(runtime.libc))
}
