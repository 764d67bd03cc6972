/**
 * The libc calls (`LibcCalls`) as a service: the `Libc` of the runtime the supervisor runs on,
 * which each platform provides from its FFI.
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import { make, type Service, type Syscalls } from "./LibcCalls.js"

export * from "./LibcCalls.js"

/** The libc of the runtime the supervisor runs on. */
export class Libc extends Context.Tag("@starter/platform-shared/Libc")<Libc, Service>() {}

export const layer = (sys: Syscalls): Layer.Layer<Libc> => Layer.succeed(Libc, make(sys))
