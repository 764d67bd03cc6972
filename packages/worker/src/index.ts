/**
 * @starter/worker: write Server::Starter workers in Node, with no other dependency.
 *
 * ```js
 * import http from "node:http"
 * import { gracefulShutdown, listen, ready } from "@starter/worker"
 *
 * const server = http.createServer((req, res) => res.end("hello\n"))
 * gracefulShutdown(server)
 * await listen(server)
 * await ready()
 * ```
 *
 * The Effect integration is `@starter/worker/StarterHttpServer` (it needs `effect`,
 * `@effect/platform` and `@effect/platform-node`). An app that calls `listen(PORT)` and
 * knows nothing of start_server runs with `node --import @starter/worker/register app.js`.
 */
export {
  type DrainOptions,
  type GracefulShutdown,
  type GracefulShutdownOptions,
  gracefulShutdown,
  track
} from "./GracefulShutdown.js"
export { onSupervisorExit } from "./Lifeline.js"
export {
  defaultBacklog,
  type ListenOptions,
  listen,
  listenAll,
  NoSuchServerPort,
  streamPort,
  streamPorts
} from "./Listen.js"
export { type ReadyChannel, ready, readyChannel } from "./Ready.js"
export {
  format as formatServerStarterPort,
  fromEnv as serverPortList,
  InvalidServerStarterPort,
  isUnixPath,
  parse as parseServerStarterPort,
  type ServerPort,
  ServerStarterPortMissing,
  serverPorts
} from "./ServerPorts.js"
