/**
 * How the supervisor learns that a new worker can serve (`--ready=…`).
 *
 * `Interval` is Perl's rule and the default: a worker is up when it is still alive
 * `--interval` seconds after spawn. Every other mode is explicit: the worker says so on a
 * channel the supervisor offers (an inherited pipe, Node's IPC, an sd_notify socket), or a
 * probe the supervisor runs succeeds. Explicit modes are bounded by `--ready-timeout`.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import type { ListenSpec } from "./ListenSpec.js"

/**
 * What a probe connects to. Targets are templates: `{pid}`, `{index}` and `{generation}`
 * are replaced by the worker's own values. `{pid}` gives each worker an address of its own
 * (the shared listening sockets cannot tell one generation from another); `{index}` does
 * not quite: a new worker takes the index of the one it replaces, which still serves.
 */
export type Probe = Data.TaggedEnum<{
  /** A TCP connect to `host:port`. */
  Tcp: { readonly host: string; readonly port: string }
  /** A connect to a unix stream socket. */
  Unix: { readonly path: string }
  /** An HTTP GET that answers 2xx or 3xx (as Kubernetes' httpGet probe). */
  Http: { readonly url: string }
}>
export const Probe = Data.taggedEnum<Probe>()

export type Readiness = Data.TaggedEnum<{
  Interval: {}
  /** `READY=1` on an inherited pipe, named by STARTER_NOTIFY_FD. */
  NotifyFd: {}
  /** `process.send("ready")` on Node's IPC channel. */
  Ipc: {}
  /** sd_notify `READY=1` on a NOTIFY_SOCKET the supervisor owns (one per worker). */
  SdNotify: {}
  Probe: { readonly probe: Probe }
}>
export const Readiness = Data.taggedEnum<Readiness>()

/** Whether readiness is Perl's "still alive after --interval". */
export const isInterval = (readiness: Readiness): boolean => readiness._tag === "Interval"

/** The worker's values that a probe target may mention. */
export interface ProbeContext {
  readonly pid: number
  readonly index: number
  readonly generation: number
}

const PLACEHOLDER = /\{(pid|index|generation)\}/g
const HAS_PLACEHOLDER = /\{(pid|index|generation)\}/

const expand = (template: string, context: ProbeContext): string =>
  template.replace(PLACEHOLDER, (_, name: keyof ProbeContext) => String(context[name]))

/** The probe with the worker's values filled in. */
export const expandProbe = (probe: Probe, context: ProbeContext): Probe =>
  Probe.$match(probe, {
    Tcp: ({ host, port }) => Probe.Tcp({ host: expand(host, context), port: expand(port, context) }),
    Unix: ({ path }) => Probe.Unix({ path: expand(path, context) }),
    Http: ({ url }) => Probe.Http({ url: expand(url, context) })
  })

/** Whether the target names a per-worker value. */
export const isPerWorker = (probe: Probe): boolean =>
  Probe.$match(probe, {
    Tcp: ({ host, port }) => HAS_PLACEHOLDER.test(host) || HAS_PLACEHOLDER.test(port),
    Unix: ({ path }) => HAS_PLACEHOLDER.test(path),
    Http: ({ url }) => HAS_PLACEHOLDER.test(url)
  })

/** The probe as the operator wrote it (log lines, status). */
export const formatProbe = (probe: Probe): string =>
  Probe.$match(probe, {
    Tcp: ({ host, port }) => `tcp:${host.includes(":") ? `[${host}]` : host}:${port}`,
    Unix: ({ path }) => `unix:${path}`,
    Http: ({ url }) => url
  })

export const format = (readiness: Readiness): string =>
  Readiness.$match(readiness, {
    Interval: () => "none",
    NotifyFd: () => "notify-fd",
    Ipc: () => "ipc",
    SdNotify: () => "sd-notify",
    Probe: ({ probe }) => formatProbe(probe)
  })

const sample: ProbeContext = { pid: 1, index: 0, generation: 1 }

const validPort = (port: string): boolean => /^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535

const TCP = /^tcp:(?:\[([^\]]+)\]|([^:]+)):([^:]+)$/

/** Pids go up to 4194304 (pid_max): a port made from one would not fit. */
const pidInPort = (text: string): boolean => /^tcp:.*:[^:]*\{pid\}[^:]*$|^https?:\/\/[^/]*:[^/]*\{pid\}/.test(text)

const parseProbe = (text: string): Either.Either<Probe, string> => {
  if (pidInPort(text)) return Either.left(`--ready=${text}: a port cannot hold {pid} (pids go past 65535)`)
  if (text.startsWith("tcp:")) {
    const tcp = TCP.exec(text)
    if (tcp === null) return Either.left(`--ready=${text}: expected tcp:HOST:PORT`)
    const probe = Probe.Tcp({ host: tcp[1] ?? tcp[2] ?? "", port: tcp[3] ?? "" })
    return validPort(expand(probe.port, sample)) ? Either.right(probe) : Either.left(`--ready=${text}: invalid port`)
  }
  if (text.startsWith("unix:")) {
    const path = text.slice("unix:".length)
    return path.startsWith("/")
      ? Either.right(Probe.Unix({ path }))
      : Either.left(`--ready=${text}: not an absolute path`)
  }
  if (/^https?:\/\//.test(text)) {
    try {
      new URL(expand(text, sample))
      return Either.right(Probe.Http({ url: text }))
    } catch {
      return Either.left(`--ready=${text}: not a valid URL`)
    }
  }
  return Either.left(
    `invalid --ready value:${text} (expected none, notify-fd, ipc, sd-notify, tcp:HOST:PORT, unix:PATH or an http:// URL)`
  )
}

/**
 * A `--ready` value: a channel, or a probe target. A misspelt channel does not compile; a
 * probe's target is checked when the options are. Every value `parse` accepts is one.
 */
export type ReadinessText =
  | "none"
  | "notify-fd"
  | "ipc"
  | "sd-notify"
  | `tcp:${string}`
  | `unix:${string}`
  | `http://${string}`
  | `https://${string}`

/** Parses a `--ready` value. */
export const parse = (text: string): Either.Either<Readiness, string> => {
  switch (text) {
    case "none":
      return Either.right(Readiness.Interval())
    case "notify-fd":
      return Either.right(Readiness.NotifyFd())
    case "ipc":
      return Either.right(Readiness.Ipc())
    case "sd-notify":
      return Either.right(Readiness.SdNotify())
    default:
      return Either.map(parseProbe(text), (probe) => Readiness.Probe({ probe }))
  }
}

/** `http://unix:/run/app.sock:/health` names a unix socket and a request path (got's convention). */
export const httpUnixSocket = (url: string): { readonly socketPath: string; readonly path: string } | undefined => {
  const match = /^https?:\/\/unix:(\/[^:]+):(\/.*)?$/.exec(url)
  return match === null ? undefined : { socketPath: match[1] ?? "", path: match[2] ?? "/" }
}

/** Where a probe connects: a unix socket path, or a TCP port. */
const probedAddress = (probe: Probe): { readonly path: string } | { readonly port: number } =>
  Probe.$match(probe, {
    Tcp: ({ port }) => ({ port: Number(port) }),
    Unix: ({ path }) => ({ path }),
    Http: ({ url }) => {
      const unix = httpUnixSocket(url)
      if (unix !== undefined) return { path: unix.socketPath }
      const parsed = new URL(url)
      return { port: parsed.port !== "" ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80 }
    }
  })

/**
 * The listening socket a probe would reach, if it is one start_server holds. Such a probe
 * proves nothing: the kernel completes connections to it while no worker accepts, and any
 * generation may answer a request on it.
 */
export const probedListenSocket = (probe: Probe, listen: ReadonlyArray<ListenSpec>): ListenSpec | undefined => {
  if (isPerWorker(probe)) return undefined
  const address = probedAddress(probe)
  return listen.find((spec) =>
    "path" in address
      ? spec._tag === "Unix" && spec.path === address.path
      : spec._tag === "Inet" && spec.protocol === "tcp" && spec.port === address.port
  )
}
