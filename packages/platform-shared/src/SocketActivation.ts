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
import * as Libc from "./Libc.js"
import { inetAddress } from "./NodeListenSockets.js"
import * as Sockaddr from "./Sockaddr.js"

/** A passed fd we cannot serve, or options that disagree with the passed sockets (exit 255). */
export class SocketActivationError extends Data.TaggedError("SocketActivationError")<{ readonly message: string }> {}

const fail = (message: string) => new SocketActivationError({ message })

/** The address in a `struct sockaddr` (what getsockname and our own sockaddr builders produce). */
const parseSockaddr = (
  libc: Libc.Service,
  bytes: Uint8Array,
  protocol: "tcp" | "udp"
): InheritedSockets.SocketAddress | undefined => {
  const address = Sockaddr.parse(bytes, libc.formatIPv6)
  return address?._tag === "Inet" ? { ...address, protocol } : address
}

const describeFd = (
  libc: Libc.Service,
  fd: number
): Either.Either<InheritedSockets.InheritedSocket, SocketActivationError> => {
  const unusable = (what: string) => Either.left(fail(`systemd passed fd ${fd}${what}`))
  let type: number
  let bytes: Uint8Array
  try {
    type = libc.socketType(fd)
    bytes = libc.getsockname(fd)
  } catch (error) {
    return unusable(`, which is not a socket (${error instanceof Error ? error.message : String(error)})`)
  }
  const protocol = type === Sockaddr.SOCK_DGRAM ? "udp" : "tcp"
  const address = parseSockaddr(libc, bytes, protocol)
  if (address === undefined) return unusable(", a socket of a kind start_server does not listen on")
  const text = InheritedSockets.describe(address)
  if (type !== Sockaddr.SOCK_STREAM && !(type === Sockaddr.SOCK_DGRAM && address._tag === "Inet")) {
    return unusable(` (${text}), a socket of a kind start_server does not listen on`)
  }
  if (type === Sockaddr.SOCK_STREAM && !libc.isListening(fd)) {
    return unusable(` (${text}), a connection rather than a listening socket (Accept=yes?)`)
  }
  return Either.right({ fd, address })
}

/**
 * The passed fds, taken once at start: the variables are removed, so workers never mistake
 * them for their own. `undefined` when this process was not socket-activated.
 */
export const take = (libc: Libc.Service): ReadonlyArray<number> | undefined => {
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
  libc: Libc.Service,
  spec: ListenSpec.ListenSpec
): Effect.Effect<InheritedSockets.SocketAddress, SocketActivationError, Libc.Libc> => {
  if (spec._tag === "Unix") {
    const unix = spec.path.startsWith("@") ? spec.path : path.resolve(spec.path)
    return Effect.succeed({ _tag: "Unix", path: unix })
  }
  return inetAddress(spec).pipe(
    Effect.mapError((error) => fail(error.message)),
    Effect.flatMap((bytes) => {
      const address = parseSockaddr(libc, bytes, spec.protocol)
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
): Effect.Effect<Adopted | undefined, SocketActivationError, Libc.Libc> =>
  Effect.gen(function* () {
    if (fds === undefined) return undefined
    const libc = yield* Libc.Libc
    const sockets = yield* Either.all(fds.map((fd) => describeFd(libc, fd)))
    const { ports, paths } =
      given.ports.length === 0 && given.paths.length === 0 ? InheritedSockets.asOptions(sockets) : given
    const specs = yield* Either.mapLeft(ListenSpec.parseListenSpecs(ports, paths), (error) => fail(error.message))
    const resolved = yield* Effect.forEach(specs, (spec) =>
      Effect.map(addressOf(libc, spec), (address) => ({ spec, address }))
    )
    const ordered = yield* Either.mapLeft(InheritedSockets.match(resolved, sockets), (error) => fail(error.message))
    return { ports, paths, fds: ordered }
  })
