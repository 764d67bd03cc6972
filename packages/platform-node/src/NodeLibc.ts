/** The `Libc` service under Node: libc through koffi. */
import * as Libc from "@starter/platform-shared/Libc"
import type * as Layer from "effect/Layer"
import { syscalls } from "./internal/libc.js"

/** For the code that runs before (or without) Effect: the early bind, the clients. */
export const libc: Libc.Service = Libc.make(syscalls)

export const layer: Layer.Layer<Libc.Libc> = Libc.layer(syscalls)
