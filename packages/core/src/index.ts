/**
 * @starter/core: the restart algorithm of start_server as pure Effect code.
 * It has no Node imports; processes, sockets, files and signals are ports.
 */
export * as Action from "./Action.js"
export * as Agenda from "./Agenda.js"
export * as Control from "./Control.js"
export * as ControlProtocol from "./ControlProtocol.js"
export * as ControlReplies from "./ControlReplies.js"
export * as ControlServer from "./ControlServer.js"
export * as Event from "./Event.js"
export * as ExitStatus from "./ExitStatus.js"
export * as FdLayout from "./FdLayout.js"
export * as FirstStart from "./FirstStart.js"
export * as History from "./History.js"
export * as InheritedSockets from "./InheritedSockets.js"
export * as Lifecycle from "./Lifecycle.js"
export * as ListenSockets from "./ListenSockets.js"
export * as ListenSpec from "./ListenSpec.js"
export * as Logs from "./Logs.js"
export * as Machine from "./Machine.js"
export * as Metrics from "./Metrics.js"
export * as PidFile from "./PidFile.js"
export * as ProcessSpawner from "./ProcessSpawner.js"
export * as Readiness from "./Readiness.js"
export * as Signal from "./Signal.js"
export * as SignalSource from "./SignalSource.js"
export * as Starter from "./Starter.js"
export {
  InvalidOptions,
  optionsFromConfig,
  type ResolvedConfig,
  StarterConfigFromOptions,
  type StarterOptions,
  StarterOptionsSchema,
  toStarterConfig,
  warnings
} from "./StarterOptions.js"
export * as StatusObserver from "./StatusObserver.js"
export * as StatusSnapshot from "./StatusSnapshot.js"
export * as StatusStore from "./StatusStore.js"
export * as Successor from "./Successor.js"
export * as Supervisor from "./Supervisor.js"
export * as SupervisorConfig from "./SupervisorConfig.js"
export * as Tunables from "./Tunables.js"
export * as Upgrade from "./Upgrade.js"
export * as WorkerEnvironment from "./WorkerEnvironment.js"
