/**
 * Sockets handed down already bound (systemd socket activation), described by their own
 * address and matched with `--port` / `--path` by address, never by position: a worker is
 * always told the address it really serves.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import type { ListenSpec } from "./ListenSpec.js"

/** A socket's address as getsockname reports it; `host` is in its canonical numeric form. */
export type SocketAddress =
  | {
      readonly _tag: "Inet"
      readonly protocol: "tcp" | "udp"
      readonly family: 4 | 6
      readonly host: string
      readonly port: number
    }
  | { readonly _tag: "Unix"; readonly path: string }

export interface InheritedSocket {
  readonly fd: number
  readonly address: SocketAddress
}

/** The `--port` or `--path` value that names the address: `127.0.0.1:8080`, `[::]:u53`, a path. */
export const describe = (address: SocketAddress): string => {
  if (address._tag === "Unix") return address.path
  const host = address.family === 6 ? `[${address.host}]` : address.host
  return `${host}:${address.protocol === "udp" ? "u" : ""}${address.port}`
}

/** The command line that names every inherited socket, as if the operator had typed it. */
export const asOptions = (
  sockets: ReadonlyArray<InheritedSocket>
): { readonly ports: ReadonlyArray<string>; readonly paths: ReadonlyArray<string> } => ({
  ports: sockets.flatMap(({ address }) => (address._tag === "Inet" ? [describe(address)] : [])),
  paths: sockets.flatMap(({ address }) => (address._tag === "Unix" ? [address.path] : []))
})

/** An option and the inherited sockets disagree; nothing has been started (exit 255). */
export class Mismatch extends Data.TaggedError("InheritedSocketMismatch")<{ readonly message: string }> {}

const same = (a: SocketAddress, b: SocketAddress): boolean =>
  a._tag === "Unix" || b._tag === "Unix"
    ? a._tag === b._tag && describe(a) === describe(b)
    : a.protocol === b.protocol && a.family === b.family && a.host === b.host && a.port === b.port

/** A bare `--port=8080` means every address: systemd's `ListenStream=8080` binds `[::]:8080`. */
const wildcard = (spec: ListenSpec, wanted: SocketAddress, candidate: SocketAddress): boolean =>
  spec._tag === "Inet" &&
  spec.host === undefined &&
  wanted._tag === "Inet" &&
  candidate._tag === "Inet" &&
  candidate.family === 6 &&
  candidate.host === "::" &&
  candidate.protocol === wanted.protocol &&
  candidate.port === wanted.port

const optionOf = (spec: ListenSpec): string => {
  if (spec._tag === "Unix") return `--path=${spec.path}`
  const port = spec.key.slice(spec.key.lastIndexOf(":") + 1)
  const host = spec.host === undefined ? "" : spec.key.slice(0, spec.key.length - port.length)
  return `--port=${host}${spec.protocol === "udp" ? "u" : ""}${port}${spec.fdText === undefined ? "" : `=${spec.fdText}`}`
}

const listing = (sockets: ReadonlyArray<InheritedSocket>): string =>
  sockets.map(({ fd, address }) => `${describe(address)} on fd ${fd}`).join(", ")

/**
 * The inherited fds in the order of `specs` (each with the address it resolves to). Every
 * option must name an inherited socket and every inherited socket must be named: one left
 * over would be served by no worker, or served while workers are told another address.
 */
export const match = (
  specs: ReadonlyArray<{ readonly spec: ListenSpec; readonly address: SocketAddress }>,
  inherited: ReadonlyArray<InheritedSocket>
): Either.Either<ReadonlyArray<number>, Mismatch> => {
  const unclaimed = [...inherited]
  const fds: Array<number> = []
  for (const { spec, address } of specs) {
    const i = unclaimed.findIndex((s) => same(s.address, address))
    const j = i >= 0 ? i : unclaimed.findIndex((s) => wildcard(spec, address, s.address))
    if (j < 0) {
      const option = optionOf(spec)
      // What a bare port or a host name stands for, unless the option says it already.
      const meaning = option.slice("--port=".length).startsWith(describe(address)) ? "" : ` (${describe(address)})`
      const taken = inherited.some((s) => same(s.address, address) || wildcard(spec, address, s.address))
      return Either.left(
        new Mismatch({
          message: taken
            ? `${option}${meaning} names the same passed socket as an earlier option`
            : `${option}${meaning} matches no socket passed by systemd (passed: ${listing(inherited)})`
        })
      )
    }
    fds.push(unclaimed[j]!.fd)
    unclaimed.splice(j, 1)
  }
  if (unclaimed.length > 0) {
    return Either.left(
      new Mismatch({
        message: `systemd passed ${listing(unclaimed)}, which no --port or --path names (name every passed socket, or none to adopt them all)`
      })
    )
  }
  return Either.right(fds)
}
