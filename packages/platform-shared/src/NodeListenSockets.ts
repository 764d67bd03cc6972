/**
 * Listening sockets made with libc calls, exactly as Perl's start_server makes them:
 * SO_REUSEADDR, IPV6_V6ONLY for IPv6, blocking (Perl workers accept in blocking mode), and
 * never accepted on or polled by this process, so every connection reaches a worker.
 */
import type * as dns from "node:dns/promises"
import * as fs from "node:fs"
import { ListenSockets, type ListenSpec } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { encode, fsPath } from "./ByteEnv.js"
import type { EarlySockets } from "./EarlyListen.js"
import * as inetSocket from "./InetSocket.js"
import * as Libc from "./Libc.js"
import * as Sockaddr from "./Sockaddr.js"
import { answers } from "./UnixProbe.js"

/** SOMAXCONN as the kernel reports it: the default backlog. */
export const kernelSomaxconn = inetSocket.kernelSomaxconn

const fail = (message: string, errno?: number) => new ListenSockets.ListenError({ message, errno })

/**
 * Perl resolves with gethostbyname: IPv4 only, first address. Its message ends with an
 * empty `$!`, hence the trailing colon.
 */
const resolveIPv4 = (host: string) => {
  const unresolved = fail(`failed to resolve host:${host}:`)
  // Loaded only for a host name: most --port values are numeric.
  const resolver: typeof dns = process.getBuiltinModule("node:dns/promises")
  return Effect.tryPromise({ try: () => resolver.lookup(host, { family: 4 }), catch: () => unresolved }).pipe(
    // An empty host "resolves" to no address at all.
    Effect.flatMap(({ address }) =>
      host === "" || typeof address !== "string"
        ? Effect.fail(unresolved)
        : Effect.succeed(address.split(".").map(Number))
    )
  )
}

/** The sockaddr a `--port` binds, resolved as Perl resolves it. */
export const inetAddress = (
  spec: ListenSpec.InetSpec
): Effect.Effect<Uint8Array, ListenSockets.ListenError, Libc.Libc> =>
  Effect.flatMap(Libc.Libc, (libc) => {
    const numeric = inetSocket.numericAddress(libc, spec)
    if (numeric !== undefined) return Effect.succeed(numeric)
    if (spec.family === 6) return Effect.fail(fail(`invalid IPv6 address in --port:${spec.host ?? "::"}`))
    return Effect.map(resolveIPv4(spec.host ?? "0.0.0.0"), (ip) => Sockaddr.sockaddrIn(ip, spec.port))
  })

const openInet = (libc: Libc.Service, spec: ListenSpec.InetSpec, backlog: number) =>
  Effect.flatMap(inetAddress(spec), (address) =>
    Effect.try({
      try: () => inetSocket.openInetSocket(libc, spec, address, backlog),
      catch: (error) =>
        error instanceof inetSocket.InetSocketError
          ? fail(error.message, error.errno)
          : fail(`failed to listen on ${spec.key}:${String(error)}`)
    })
  )

const isSocket = (path: string): boolean => {
  try {
    return fs.lstatSync(fsPath(path)).isSocket()
  } catch {
    return false
  }
}

/**
 * Perl removes a stale socket file; a path that is anything else is refused (Perl deletes it),
 * and so is a socket something still listens on (Perl deletes that too: a second instance
 * that then fails took the running one's socket file with it).
 */
const clearPath = (path: string) =>
  Effect.gen(function* () {
    const stat = yield* Effect.sync(() => fs.lstatSync(fsPath(path), { throwIfNoEntry: false }))
    if (stat === undefined) return
    if (!stat.isSocket()) return yield* Effect.fail(fail(`refusing to replace ${path}: not a socket`))
    if (yield* answers(path)) {
      return yield* Effect.fail(fail(`failed to listen to file ${path}:Address already in use`, 98 /* EADDRINUSE */))
    }
    yield* Effect.logWarning(`removing existing socket file:${path}`)
    yield* Effect.try({
      try: () => fs.unlinkSync(fsPath(path)),
      catch: (error) => fail(`failed to remove existing socket file:${path}:${String(error)}`)
    })
  })

const openUnix = (libc: Libc.Service, spec: ListenSpec.UnixSpec, backlog: number, mode: number) =>
  Effect.gen(function* () {
    // Perl's sockaddr_un truncates a longer path and binds somewhere else; we refuse it.
    if (encode(spec.path).length > Sockaddr.maxUnixPath) {
      return yield* Effect.fail(fail(`failed to listen to file ${spec.path}:File name too long`, 36 /* ENAMETOOLONG */))
    }
    yield* clearPath(spec.path)
    // One IO::Socket::UNIX call in Perl, hence one message for every step.
    return yield* Effect.try({
      try: () => {
        const fd = libc.socket(Sockaddr.AF_UNIX, Sockaddr.SOCK_STREAM)
        try {
          libc.bind(fd, Sockaddr.sockaddrUn(spec.path))
          // Perl binds under umask(0): the socket file is srwxrwxrwx unless --path-mode says less.
          fs.chmodSync(fsPath(spec.path), mode)
          libc.listen(fd, backlog)
          return fd
        } catch (error) {
          libc.close(fd)
          throw error
        }
      },
      catch: (error) =>
        error instanceof Libc.SysError
          ? fail(`failed to listen to file ${spec.path}:${error.message}`, error.errno)
          : fail(`failed to listen on ${spec.path}:${String(error)}`)
    })
  })

/**
 * Whether this process owns the socket files now: after `start_server upgrade` hands them
 * over, the new supervisor listens on them and only it removes them (see Handover).
 */
export type Owned = () => boolean

const always: Owned = () => true

const closeSocket = (libc: Libc.Service, spec: ListenSpec.ListenSpec, fd: number, owned: Owned) =>
  Effect.sync(() => {
    libc.close(fd)
    // Perl's guard: `-S $_ and unlink $_`, so a file someone put there meanwhile survives.
    if (spec._tag === "Unix" && owned() && isSocket(spec.path)) fs.rmSync(fsPath(spec.path), { force: true })
  })

/** A socket held until the scope closes; Perl's line for `=N` once it is held (it dup2s there; we place it there in each worker). */
const hold = <E, R>(
  libc: Libc.Service,
  spec: ListenSpec.ListenSpec,
  acquire: Effect.Effect<number, E, R>,
  owned: Owned
) =>
  Effect.acquireRelease(
    Effect.map(acquire, (fd): ListenSockets.BoundSocket => ({ spec, fd })),
    ({ fd }) => closeSocket(libc, spec, fd, owned)
  ).pipe(
    Effect.tap(() =>
      spec.fd === undefined ? Effect.void : Effect.logInfo(`socket is duplicated to file descriptor ${spec.fdText}`)
    )
  )

const open = (
  libc: Libc.Service,
  owned: Owned,
  specs: ReadonlyArray<ListenSpec.ListenSpec>,
  options: ListenSockets.ListenOptions
) =>
  Effect.forEach(specs, (spec) => {
    const backlog = options.backlog ?? kernelSomaxconn()
    const acquire =
      spec._tag === "Unix" ? openUnix(libc, spec, backlog, options.pathMode ?? 0o777) : openInet(libc, spec, backlog)
    return hold(libc, spec, acquire, owned)
  })

/**
 * The sockets the binary bound before loading this module (see EarlyListen), taken over in
 * spec order with Perl's log lines; a failure there is reported here, where Perl reports it.
 * Specs that differ from the early ones (they cannot, short of a bug) are bound afresh.
 */
export const layerEarly = (
  early: EarlySockets,
  owned: Owned = always
): Layer.Layer<ListenSockets.ListenSockets, never, Libc.Libc> =>
  Layer.effect(
    ListenSockets.ListenSockets,
    Effect.map(Libc.Libc, (libc) =>
      ListenSockets.ListenSockets.of({
        open: (specs, options) => {
          const same = specs.length === early.specs.length && specs.every((spec, i) => spec.key === early.specs[i]?.key)
          if (!same)
            return Effect.zipRight(
              Effect.sync(() => early.fds.forEach(libc.close)),
              Effect.provideService(open(libc, owned, specs, options), Libc.Libc, libc)
            )
          return Effect.forEach(specs, (spec, i) => {
            const fd = early.fds[i]
            if (fd !== undefined) return hold(libc, spec, Effect.succeed(fd), owned)
            const failure = early.failure
            return Effect.fail(fail(failure?.message ?? `failed to listen on ${spec.key}`, failure?.errno))
          })
        }
      })
    )
  )

/**
 * Sockets that are already open in this process (handed over by the foreground of
 * `--daemonize`, by the old supervisor of `start_server upgrade`, or by systemd once
 * `SocketActivation.adopt` has matched them), in spec order. They are closed, and unix paths
 * removed unless `removePaths` is false (or while this process does not own them), at the end.
 */
export const layerAdopted = (
  fds: ReadonlyArray<number>,
  options: { readonly removePaths: boolean; readonly owned?: Owned | undefined } = { removePaths: true }
): Layer.Layer<ListenSockets.ListenSockets, never, Libc.Libc> =>
  Layer.effect(
    ListenSockets.ListenSockets,
    Effect.map(Libc.Libc, (libc) =>
      ListenSockets.ListenSockets.of({
        open: (specs) => {
          if (specs.length !== fds.length) {
            return Effect.fail(fail(`${fds.length} inherited sockets for ${specs.length} --port/--path options`))
          }
          return Effect.forEach(specs, (spec, i) => {
            const fd = fds[i]!
            // systemd owns the paths of the sockets it hands us: close, never unlink.
            const release = options.removePaths
              ? closeSocket(libc, spec, fd, options.owned ?? always)
              : Effect.sync(() => libc.close(fd))
            return Effect.acquireRelease(Effect.succeed({ spec, fd }), () => release)
          })
        }
      })
    )
  )

export const layerWith = (owned: Owned): Layer.Layer<ListenSockets.ListenSockets, never, Libc.Libc> =>
  Layer.effect(
    ListenSockets.ListenSockets,
    Effect.map(Libc.Libc, (libc) =>
      ListenSockets.ListenSockets.of({
        open: (specs, options) => Effect.provideService(open(libc, owned, specs, options), Libc.Libc, libc)
      })
    )
  )

export const layer: Layer.Layer<ListenSockets.ListenSockets, never, Libc.Libc> = layerWith(always)
