/**
 * @starter/platform-node: the Node.js live layers behind @starter/core's ports.
 */
export * as Envdir from "./Envdir.js"
export * as LogFile from "./LogFile.js"
export * as NodeControlServer from "./NodeControlServer.js"
export * as NodeDaemon from "./NodeDaemon.js"
export * as NodeListenSockets from "./NodeListenSockets.js"
export * as NodeLogger from "./NodeLogger.js"
export * as NodeMain from "./NodeMain.js"
export * as NodePidFile from "./NodePidFile.js"
export * as NodeProcessSpawner from "./NodeProcessSpawner.js"
export * as NodeSignalSource from "./NodeSignalSource.js"
export * as NodeStatusObserver from "./NodeStatusObserver.js"
export * as NodeStatusStore from "./NodeStatusStore.js"
export * as NodeWorkerEnvironment from "./NodeWorkerEnvironment.js"
export * as StarterLive from "./StarterLive.js"
export * as Stderr from "./Stderr.js"
export * as SystemError from "./SystemError.js"
