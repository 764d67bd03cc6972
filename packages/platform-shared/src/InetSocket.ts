/**
 * A TCP or UDP socket exactly as Perl's start_server makes it (SO_REUSEADDR, IPV6_V6ONLY for
 * IPv6, blocking), synchronously: shared by the Effect layer and by the binary's early bind,
 * which runs before any Effect module is loaded.
 */
import * as fs from "node:fs"
import type { InetSpec } from "@starter/core/ListenSpec"
import { type Service as LibcService, SysError } from "./LibcCalls.js"
import * as Sockaddr from "./Sockaddr.js"

/** SOMAXCONN as the kernel reports it (Perl uses its compile-time value, 4096 on Linux ≥ 5.4). */
export const kernelSomaxconn = (): number => {
  try {
    const value = Number(fs.readFileSync("/proc/sys/net/core/somaxconn", "utf8").trim())
    return Number.isInteger(value) && value > 0 ? value : 4096
  } catch {
    return 4096
  }
}

/** A failed step, worded as Perl words it: `failed to bind to KEY:ERR` or `listen(2) failed:ERR`. */
export class InetSocketError extends Error {
  constructor(
    message: string,
    readonly errno: number | undefined
  ) {
    super(message)
  }
}

/** Opens, binds and (for TCP) listens; closes the fd again and throws an `InetSocketError` if a step fails. */
export const openInetSocket = (libc: LibcService, spec: InetSpec, address: Uint8Array, backlog: number): number => {
  const fd = socketOrThrow(libc, spec)
  try {
    libc.setReuseAddr(fd)
    if (spec.family === 6) libc.setV6Only(fd)
    libc.bind(fd, address)
    if (spec.protocol === "tcp") libc.listen(fd, backlog)
    return fd
  } catch (error) {
    libc.close(fd)
    throw failure(spec, error)
  }
}

const socketOrThrow = (libc: LibcService, spec: InetSpec): number => {
  try {
    return libc.socket(
      spec.family === 6 ? Sockaddr.AF_INET6 : Sockaddr.AF_INET,
      spec.protocol === "udp" ? Sockaddr.SOCK_DGRAM : Sockaddr.SOCK_STREAM
    )
  } catch (error) {
    throw failure(spec, error)
  }
}

// Perl's `failed to bind to $key`: the key, without the `u` or the `=N`.
const failure = (spec: InetSpec, error: unknown): InetSocketError =>
  error instanceof SysError
    ? new InetSocketError(
        `${error.call === "bind" ? `failed to bind to ${spec.key}` : `${error.call}(2) failed`}:${error.message}`,
        error.errno
      )
    : new InetSocketError(`failed to listen on ${spec.key}:${String(error)}`, undefined)

// A dotted quad without leading zeros: what gethostbyname answers unchanged (`010` is octal to it).
const DOTTED_QUAD = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/**
 * The sockaddr of a host that needs no resolver: a bare port (0.0.0.0), a dotted quad or an
 * IPv6 literal. `undefined` for a name, which only the resolver can answer.
 */
export const numericAddress = (libc: LibcService, spec: InetSpec): Uint8Array | undefined => {
  if (spec.family === 6) {
    const ip = libc.parseIPv6(spec.host ?? "::")
    return ip === undefined ? undefined : Sockaddr.sockaddrIn6(ip, spec.port)
  }
  const host = spec.host ?? "0.0.0.0"
  return DOTTED_QUAD.test(host) ? Sockaddr.sockaddrIn(host.split(".").map(Number), spec.port) : undefined
}
