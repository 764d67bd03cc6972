/**
 * Where each listening socket lands in the worker, and the SERVER_STARTER_PORT value that
 * tells it. Perl keeps the supervisor's own fd numbers; we renumber from 3 (Node cannot
 * choose its fds), except for `=N`, which is honoured exactly. Consumers read the env var.
 */
import type { BoundSocket } from "./ListenSockets.js"

export interface FdLayout {
  readonly serverStarterPort: string
  readonly fds: ReadonlyArray<{ readonly childFd: number; readonly fd: number }>
}

export const layout = (sockets: ReadonlyArray<BoundSocket>): FdLayout => {
  const claimed = new Set(sockets.flatMap((s) => (s.spec.fd === undefined ? [] : [s.spec.fd])))
  let next = 3
  const nextFree = (): number => {
    while (claimed.has(next)) next++
    claimed.add(next)
    return next
  }
  const placed = sockets.map((s) => ({ key: s.spec.key, childFd: s.spec.fd ?? nextFree(), fd: s.fd }))
  return {
    serverStarterPort: placed.map((p) => `${p.key}=${p.childFd}`).join(";"),
    fds: placed.map(({ childFd, fd }) => ({ childFd, fd }))
  }
}
