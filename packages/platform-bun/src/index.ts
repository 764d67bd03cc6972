/**
 * @starter/platform-bun: what Bun does its own way, behind @starter/platform-shared's
 * services: libc through bun:ffi, workers through `Bun.spawn`, an fd watcher on SIGIO; and
 * `StarterLive`, the supervisor as a layer for Effect applications on Bun.
 */
export { InvalidOptions, type StarterOptions } from "@starter/core"
export * as BunFdWatcher from "./BunFdWatcher.js"
export * as BunLibc from "./BunLibc.js"
export * as BunPipe from "./BunPipe.js"
export * as BunProcessSpawner from "./BunProcessSpawner.js"
export { layerConfig, StarterLive } from "./BunStarterLive.js"
export * as BunStarterServices from "./BunStarterServices.js"
