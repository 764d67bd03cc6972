/**
 * The runtime this start_server runs on: Bun when Bun runs the binary
 * (`bun node_modules/@starter/cli/bin/start_server.js`), else Node. One bundle serves both;
 * each libc loads its FFI on its first call only.
 */
import * as BunLibc from "@starter/platform-bun/BunLibc"
import * as NodeLibc from "@starter/platform-node/NodeLibc"
import type * as LibcCalls from "@starter/platform-shared/LibcCalls"

export const isBun = process.versions.bun !== undefined

/** For the code that runs before (or without) Effect: the early bind, the clients. */
export const libc: LibcCalls.Service = isBun ? BunLibc.libc : NodeLibc.libc
