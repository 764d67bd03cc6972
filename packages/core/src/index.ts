/**
 * @starter/core: the restart algorithm of start_server as pure Effect code.
 * It has no Node imports; processes, sockets, files and signals are ports.
 */
export * as Action from "./Action.js"
export * as Event from "./Event.js"
export * as ExitStatus from "./ExitStatus.js"
export * as FdLayout from "./FdLayout.js"
export * as Lifecycle from "./Lifecycle.js"
export * as ListenSockets from "./ListenSockets.js"
export * as ListenSpec from "./ListenSpec.js"
export * as Machine from "./Machine.js"
export * as PidFile from "./PidFile.js"
export * as ProcessSpawner from "./ProcessSpawner.js"
export * as Signal from "./Signal.js"
export * as SignalSource from "./SignalSource.js"
export * as Starter from "./Starter.js"
export * as StatusStore from "./StatusStore.js"
export * as Supervisor from "./Supervisor.js"
export * as SupervisorConfig from "./SupervisorConfig.js"
export * as WorkerEnvironment from "./WorkerEnvironment.js"
