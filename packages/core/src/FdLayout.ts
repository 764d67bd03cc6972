/**
 * Where each listening socket lands in the worker, and the SERVER_STARTER_PORT value that
 * tells it. Perl keeps the supervisor's own fd numbers; we renumber from 3 (Node cannot
 * choose its fds), except for `=N`, which is honoured exactly. Consumers read the env var.
 */
import type { BoundSocket } from "./ListenSockets.js"

export interface FdLayout {
  readonly serverStarterPort: string
  /**
   * `--backlog`, when given: workers are told (STARTER_BACKLOG), because a Node worker's
   * listen() on an inherited socket sets the backlog again. Otherwise it is the kernel's
   * SOMAXCONN, which a worker can read itself.
   */
  readonly backlog: number | undefined
  /** The SERVER_STARTER_PORT keys, in the same order as `fds`. */
  readonly keys: ReadonlyArray<string>
  /** The keys of the TCP ports and unix paths: what a worker's own listen() would collide with. */
  readonly listening: ReadonlyArray<string>
  readonly fds: ReadonlyArray<{ readonly childFd: number; readonly fd: number }>
}

export const layout = (sockets: ReadonlyArray<BoundSocket>, backlog?: number): FdLayout => {
  const claimed = new Set(sockets.flatMap((s) => (s.spec.fd === undefined ? [] : [s.spec.fd])))
  let next = 3
  const nextFree = (): number => {
    while (claimed.has(next)) next++
    claimed.add(next)
    return next
  }
  const placed = sockets.map((s) => ({
    key: s.spec.key,
    childFd: s.spec.fd ?? nextFree(),
    published: s.spec.fdText,
    fd: s.fd
  }))
  return {
    serverStarterPort: placed.map((p) => `${p.key}=${p.published ?? p.childFd}`).join(";"),
    backlog,
    keys: placed.map((p) => p.key),
    listening: sockets.flatMap((s) => (s.spec._tag === "Unix" || s.spec.protocol === "tcp" ? [s.spec.key] : [])),
    fds: placed.map(({ childFd, fd }) => ({ childFd, fd }))
  }
}

/** systemd's LISTEN_FDNAMES cannot contain ':'; keys like `127.0.0.1:8080` use '_' instead. */
export const listenFdName = (key: string): string => key.replace(/[:\s]/g, "_")

/**
 * systemd's protocol for the same sockets: LISTEN_FDS counts fds from 3 with no gaps, in
 * order. Undefined when an `=N` placement breaks that shape.
 */
export const systemdEnv = (
  layout: FdLayout,
  keys: ReadonlyArray<string>
): { readonly LISTEN_FDS: string; readonly LISTEN_FDNAMES: string } | undefined =>
  layout.fds.every(({ childFd }, i) => childFd === 3 + i)
    ? { LISTEN_FDS: String(layout.fds.length), LISTEN_FDNAMES: keys.map(listenFdName).join(":") }
    : undefined
