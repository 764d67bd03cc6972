/**
 * Libc under Node, through koffi, free of Effect (the early bind uses it before Effect loads);
 * the `Libc` service made from it is `NodeStarterServices.libcLayer`.
 */
import * as LibcCalls from "@starter/platform-shared/LibcCalls"
import { syscalls } from "./internal/libc.js"

export { syscalls }

/** For the code that runs before (or without) Effect: the early bind, the clients. */
export const libc: LibcCalls.Service = LibcCalls.make(syscalls)
