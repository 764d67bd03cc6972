/**
 * @starter/platform-bun: what Bun does its own way, behind @starter/platform-shared's
 * services. So far: `BunLibc`, the `Libc` service through bun:ffi.
 */
export * as BunLibc from "./BunLibc.js"
