/**
 * @starter/platform-node: the Node.js live layers behind @starter/core's ports, and
 * `StarterLive`, the supervisor as a layer (with what an application passes to it). What Node
 * does its own way is here (libc through koffi, child_process, the fd watcher); the rest is
 * @starter/platform-shared's, re-exported (its layers need `NodeStarterServices.libcLayer`).
 */
export { InvalidOptions, type StarterOptions } from "@starter/core"
export {
  EarlyListen,
  Envdir,
  Handover,
  InheritedFds,
  Libc,
  LogFile,
  NodeControlServer,
  NodeDaemon,
  NodeListenSockets,
  NodeLogger,
  NodeLogs,
  NodePidFile,
  NodeSignalSource,
  NodeStatusObserver,
  NodeStatusStore,
  NodeSuccessor,
  NodeWorkerEnvironment,
  OrphanReaper,
  PidFileLock,
  RunMain,
  SocketActivation,
  Stderr,
  SystemdNotify,
  SystemError,
  Takeover,
  WorkerOutput
} from "@starter/platform-shared"
export * as NodeLibc from "./NodeLibc.js"
export * as NodePipe from "./NodePipe.js"
export * as NodeProcessSpawner from "./NodeProcessSpawner.js"
export * as NodeStarterServices from "./NodeStarterServices.js"
export { layerConfig, StarterLive } from "./StarterLive.js"
