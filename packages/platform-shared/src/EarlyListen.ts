/**
 * `start_server` binds its ports before it loads the supervisor's modules: the kernel queues
 * connections from the first milliseconds, as under Perl's start_server, while Effect loads.
 * Synchronous and free of Effect's runtime; the supervisor takes the sockets over through
 * `NodeListenSockets.layerEarly`, which also reports a failure here at the point Perl does.
 */
import { type InetSpec, parseListenSpecs } from "@starter/core/ListenSpec"
import * as Either from "effect/Either"
import { InetSocketError, kernelSomaxconn, numericAddress, openInetSocket } from "./InetSocket.js"
import type * as Libc from "./LibcCalls.js"

export interface EarlySockets {
  readonly specs: ReadonlyArray<InetSpec>
  /** The fds bound, in spec order; after a failure, those bound before it (Perl stops there). */
  readonly fds: ReadonlyArray<number>
  readonly failure: InetSocketError | undefined
}

/**
 * Binds `--port` values whose hosts need no resolver. `undefined` when there is nothing this
 * can bind on its own (a bad value, a host name): the supervisor then binds as usual.
 */
export const bind = (
  libc: Libc.Service,
  ports: ReadonlyArray<string>,
  backlog: number | undefined
): EarlySockets | undefined => {
  const parsed = parseListenSpecs(ports, [])
  if (Either.isLeft(parsed)) return undefined
  const specs = parsed.right.filter((spec): spec is InetSpec => spec._tag === "Inet")
  const addresses = specs.map((spec) => numericAddress(libc, spec))
  if (addresses.includes(undefined)) return undefined
  const fds: Array<number> = []
  for (const [i, spec] of specs.entries()) {
    try {
      fds.push(openInetSocket(libc, spec, addresses[i]!, backlog ?? kernelSomaxconn()))
    } catch (error) {
      if (error instanceof InetSocketError) return { specs, fds, failure: error }
      throw error
    }
  }
  return { specs, fds, failure: undefined }
}
