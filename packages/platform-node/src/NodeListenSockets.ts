/**
 * Listening sockets made with libc calls, exactly as Perl's start_server makes them:
 * SO_REUSEADDR, IPV6_V6ONLY for IPv6, blocking (Perl workers accept in blocking mode), and
 * never accepted on or polled by this process, so every connection reaches a worker.
 */
import * as dns from "node:dns/promises"
import * as fs from "node:fs"
import { ListenSockets, type ListenSpec } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as libc from "./internal/libc.js"

/** SOMAXCONN as the kernel reports it (Perl uses its compile-time value, 4096 on Linux ≥ 5.4). */
export const kernelSomaxconn = (): number => {
  try {
    const value = Number(fs.readFileSync("/proc/sys/net/core/somaxconn", "utf8").trim())
    return Number.isInteger(value) && value > 0 ? value : 4096
  } catch {
    return 4096
  }
}

const fail = (message: string, errno?: number) => new ListenSockets.ListenError({ message, errno })

/**
 * Perl resolves with gethostbyname: IPv4 only, first address. Its message ends with an
 * empty `$!`, hence the trailing colon.
 */
const resolveIPv4 = (host: string) => {
  const unresolved = fail(`failed to resolve host:${host}:`)
  return Effect.tryPromise({ try: () => dns.lookup(host, { family: 4 }), catch: () => unresolved }).pipe(
    // An empty host "resolves" to no address at all.
    Effect.flatMap(({ address }) =>
      host === "" || typeof address !== "string"
        ? Effect.fail(unresolved)
        : Effect.succeed(address.split(".").map(Number))
    )
  )
}

const inetAddress = (spec: ListenSpec.InetSpec) => {
  if (spec.family === 6) {
    const host = spec.host ?? "::"
    const ip = libc.parseIPv6(host)
    return ip === undefined
      ? Effect.fail(fail(`invalid IPv6 address in --port:${host}`))
      : Effect.succeed(libc.sockaddrIn6(ip, spec.port))
  }
  return Effect.map(resolveIPv4(spec.host ?? "0.0.0.0"), (ip) => libc.sockaddrIn(ip, spec.port))
}

/**
 * Runs libc steps on a fresh fd; closes it and reports Perl's message if one fails: for a
 * port `failed to bind to KEY:ERR` or `listen(2) failed:ERR`, for a unix socket (one
 * IO::Socket::UNIX call in Perl) `failed to listen to file PATH:ERR`.
 */
const withSocket = (
  domain: number,
  type: number,
  label: string,
  setup: (fd: number) => void,
  describe: (error: libc.SysError) => string = (error) =>
    error.call === "bind" ? `failed to bind to ${label}` : `${error.call}(2) failed`
) =>
  Effect.try({
    try: () => {
      const fd = libc.socket(domain, type)
      try {
        setup(fd)
        return fd
      } catch (error) {
        libc.close(fd)
        throw error
      }
    },
    catch: (error) => {
      if (!(error instanceof libc.SysError)) return fail(`failed to listen on ${label}:${String(error)}`)
      return fail(`${describe(error)}:${error.message}`, error.errno)
    }
  })

const openInet = (spec: ListenSpec.InetSpec, backlog: number) =>
  Effect.flatMap(inetAddress(spec), (address) =>
    withSocket(
      spec.family === 6 ? libc.AF_INET6 : libc.AF_INET,
      spec.protocol === "udp" ? libc.SOCK_DGRAM : libc.SOCK_STREAM,
      // Perl's `failed to bind to $key`: the key, without the `u` or the `=N`.
      spec.key,
      (fd) => {
        libc.setReuseAddr(fd)
        if (spec.family === 6) libc.setV6Only(fd)
        libc.bind(fd, address)
        if (spec.protocol === "tcp") libc.listen(fd, backlog)
      }
    )
  )

const isSocket = (path: string): boolean => {
  try {
    return fs.lstatSync(path).isSocket()
  } catch {
    return false
  }
}

/** Perl removes a stale socket file; a path that is anything else is refused (Perl deletes it). */
const clearPath = (path: string) =>
  Effect.gen(function* () {
    const stat = yield* Effect.sync(() => fs.lstatSync(path, { throwIfNoEntry: false }))
    if (stat === undefined) return
    if (!stat.isSocket()) return yield* Effect.fail(fail(`refusing to replace ${path}: not a socket`))
    yield* Effect.logWarning(`removing existing socket file:${path}`)
    yield* Effect.try({
      try: () => fs.unlinkSync(path),
      catch: (error) => fail(`failed to remove existing socket file:${path}:${String(error)}`)
    })
  })

const openUnix = (spec: ListenSpec.UnixSpec, backlog: number) =>
  Effect.gen(function* () {
    // Perl's sockaddr_un truncates a longer path and binds somewhere else; we refuse it.
    if (Buffer.byteLength(spec.path) > libc.maxUnixPath) {
      return yield* Effect.fail(fail(`failed to listen to file ${spec.path}:File name too long`, 36 /* ENAMETOOLONG */))
    }
    yield* clearPath(spec.path)
    return yield* withSocket(
      libc.AF_UNIX,
      libc.SOCK_STREAM,
      spec.path,
      (fd) => {
        libc.bind(fd, libc.sockaddrUn(spec.path))
        // Perl binds under umask(0): the socket file is srwxrwxrwx.
        fs.chmodSync(spec.path, 0o777)
        libc.listen(fd, backlog)
      },
      () => `failed to listen to file ${spec.path}`
    )
  })

const closeSocket = (spec: ListenSpec.ListenSpec, fd: number) =>
  Effect.sync(() => {
    libc.close(fd)
    // Perl's guard: `-S $_ and unlink $_`, so a file someone put there meanwhile survives.
    if (spec._tag === "Unix" && isSocket(spec.path)) fs.rmSync(spec.path, { force: true })
  })

const open = (specs: ReadonlyArray<ListenSpec.ListenSpec>, options: ListenSockets.ListenOptions) =>
  Effect.forEach(specs, (spec) => {
    const backlog = options.backlog ?? kernelSomaxconn()
    const acquire = spec._tag === "Unix" ? openUnix(spec, backlog) : openInet(spec, backlog)
    return Effect.acquireRelease(
      Effect.map(acquire, (fd): ListenSockets.BoundSocket => ({ spec, fd })),
      ({ fd }) => closeSocket(spec, fd)
    ).pipe(
      // Perl's line for `=N` (it dup2s there; we place the socket there in each worker).
      Effect.tap(() =>
        spec.fd === undefined ? Effect.void : Effect.logInfo(`socket is duplicated to file descriptor ${spec.fdText}`)
      )
    )
  })

/**
 * Sockets that are already open in this process (handed over by the foreground of
 * `--daemonize`), in spec order. They are closed, and unix paths removed, at the end.
 */
export const layerAdopted = (
  fds: ReadonlyArray<number>,
  options: { readonly removePaths: boolean } = { removePaths: true }
): Layer.Layer<ListenSockets.ListenSockets> =>
  Layer.succeed(
    ListenSockets.ListenSockets,
    ListenSockets.ListenSockets.of({
      open: (specs) => {
        if (specs.length !== fds.length) {
          return Effect.fail(fail(`${fds.length} inherited sockets for ${specs.length} --port/--path options`))
        }
        return Effect.forEach(specs, (spec, i) => {
          const fd = fds[i]!
          // systemd owns the paths of the sockets it hands us: close, never unlink.
          const release = options.removePaths ? closeSocket(spec, fd) : Effect.sync(() => libc.close(fd))
          return Effect.acquireRelease(Effect.succeed({ spec, fd }), () => release)
        })
      }
    })
  )

/**
 * systemd socket activation: LISTEN_PID names this process and LISTEN_FDS counts the
 * sockets at fds 3.. (in the order of the unit's ListenStream= lines). The variables are
 * removed, so workers never mistake them for their own.
 */
export const takeSystemdSockets = (): ReadonlyArray<number> | undefined => {
  const { LISTEN_PID, LISTEN_FDS } = process.env
  delete process.env.LISTEN_PID
  delete process.env.LISTEN_FDS
  delete process.env.LISTEN_FDNAMES
  if (LISTEN_PID !== String(process.pid) || LISTEN_FDS === undefined) return undefined
  const fds = Array.from({ length: Number(LISTEN_FDS) }, (_, i) => 3 + i)
  for (const fd of fds) libc.setCloexec(fd)
  return fds
}

export const layer: Layer.Layer<ListenSockets.ListenSockets> = Layer.succeed(
  ListenSockets.ListenSockets,
  ListenSockets.ListenSockets.of({ open })
)
