/**
 * systemd socket activation: LISTEN_PID names this process and LISTEN_FDS counts the sockets
 * at fds 3.. (in the order of the unit's Listen… lines). Each is described by getsockname and
 * adopted under its own address: with no `--port`/`--path` every socket is adopted as if it
 * had been typed; otherwise the options must name exactly the sockets passed (Perl ignores
 * LISTEN_FDS and binds anew).
 */
import * as path from "node:path"
import { InheritedSockets, ListenSpec } from "@starter/core"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as libc from "./internal/libc.js"
import { inetAddress } from "./NodeListenSockets.js"

/** A passed fd we cannot serve, or options that disagree with the passed sockets (exit 255). */
export class SocketActivationError extends Data.TaggedError("SocketActivationError")<{ readonly message: string }> {}

const fail = (message: string) => new SocketActivationError({ message })

/** The address in a `struct sockaddr` (what getsockname and our own sockaddr builders produce). */
const parseSockaddr = (bytes: Uint8Array, protocol: "tcp" | "udp"): InheritedSockets.SocketAddress | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const family = view.getUint16(0, true)
  if (family === libc.AF_INET && bytes.length >= 8) {
    return { _tag: "Inet", protocol, family: 4, host: bytes.subarray(4, 8).join("."), port: view.getUint16(2, false) }
  }
  if (family === libc.AF_INET6 && bytes.length >= 24) {
    const host = libc.formatIPv6(bytes.slice(8, 24))
    return { _tag: "Inet", protocol, family: 6, host, port: view.getUint16(2, false) }
  }
  if (family === libc.AF_UNIX && bytes.length > 2) {
    const name = bytes.subarray(2)
    // An abstract name starts with a NUL and runs to the end; a path ends at its NUL.
    if (name[0] === 0) return { _tag: "Unix", path: `@${new TextDecoder().decode(name.subarray(1))}` }
    const end = name.indexOf(0)
    return { _tag: "Unix", path: new TextDecoder().decode(end < 0 ? name : name.subarray(0, end)) }
  }
  return undefined
}

const describeFd = (fd: number): Either.Either<InheritedSockets.InheritedSocket, SocketActivationError> => {
  const unusable = (what: string) => Either.left(fail(`systemd passed fd ${fd}${what}`))
  let type: number
  let bytes: Uint8Array
  try {
    type = libc.socketType(fd)
    bytes = libc.getsockname(fd)
  } catch (error) {
    return unusable(`, which is not a socket (${error instanceof Error ? error.message : String(error)})`)
  }
  const protocol = type === libc.SOCK_DGRAM ? "udp" : "tcp"
  const address = parseSockaddr(bytes, protocol)
  if (address === undefined) return unusable(", a socket of a kind start_server does not listen on")
  const text = InheritedSockets.describe(address)
  if (type !== libc.SOCK_STREAM && !(type === libc.SOCK_DGRAM && address._tag === "Inet")) {
    return unusable(` (${text}), a socket of a kind start_server does not listen on`)
  }
  if (type === libc.SOCK_STREAM && !libc.isListening(fd)) {
    return unusable(` (${text}), a connection rather than a listening socket (Accept=yes?)`)
  }
  return Either.right({ fd, address })
}

/**
 * The passed fds, taken once at start: the variables are removed, so workers never mistake
 * them for their own. `undefined` when this process was not socket-activated.
 */
export const take = (): ReadonlyArray<number> | undefined => {
  const { LISTEN_PID, LISTEN_FDS } = process.env
  delete process.env.LISTEN_PID
  delete process.env.LISTEN_FDS
  delete process.env.LISTEN_FDNAMES
  const count = Number(LISTEN_FDS)
  if (LISTEN_PID !== String(process.pid) || !Number.isInteger(count) || count <= 0) return undefined
  const fds = Array.from({ length: count }, (_, i) => 3 + i)
  for (const fd of fds) {
    try {
      libc.setCloexec(fd)
    } catch {
      // not open: described below as not a socket
    }
  }
  return fds
}

/** Where a spec would bind, in getsockname's terms (a relative `--path` is relative to the cwd). */
const addressOf = (
  spec: ListenSpec.ListenSpec
): Effect.Effect<InheritedSockets.SocketAddress, SocketActivationError> => {
  if (spec._tag === "Unix") {
    const unix = spec.path.startsWith("@") ? spec.path : path.resolve(spec.path)
    return Effect.succeed({ _tag: "Unix", path: unix })
  }
  return inetAddress(spec).pipe(
    Effect.mapError((error) => fail(error.message)),
    Effect.flatMap((bytes) => {
      const address = parseSockaddr(bytes, spec.protocol)
      return address === undefined ? Effect.fail(fail(`cannot resolve --port=${spec.key}`)) : Effect.succeed(address)
    })
  )
}

export interface Adopted {
  /** The `--port` and `--path` values to run with: as given, or those naming every passed socket. */
  readonly ports: ReadonlyArray<string>
  readonly paths: ReadonlyArray<string>
  /** The passed fds, in the order of the listen specs those options parse to. */
  readonly fds: ReadonlyArray<number>
}

/**
 * Describes the passed fds and matches them with the command line, before anything is
 * spawned or written. `undefined` without socket activation.
 */
export const adopt = (
  fds: ReadonlyArray<number> | undefined,
  given: { readonly ports: ReadonlyArray<string>; readonly paths: ReadonlyArray<string> }
): Effect.Effect<Adopted | undefined, SocketActivationError> =>
  Effect.gen(function* () {
    if (fds === undefined) return undefined
    const sockets = yield* Either.all(fds.map(describeFd))
    const { ports, paths } =
      given.ports.length === 0 && given.paths.length === 0 ? InheritedSockets.asOptions(sockets) : given
    const specs = yield* Either.mapLeft(ListenSpec.parseListenSpecs(ports, paths), (error) => fail(error.message))
    const resolved = yield* Effect.forEach(specs, (spec) =>
      Effect.map(addressOf(spec), (address) => ({ spec, address }))
    )
    const ordered = yield* Either.mapLeft(InheritedSockets.match(resolved, sockets), (error) => fail(error.message))
    return { ports, paths, fds: ordered }
  })
