/**
 * The fd watcher under Bun: the kernel signals readiness (O_ASYNC: SIGIO to this process on
 * each arrival), and Bun runs the handler on the main thread. A signal does not say which fd,
 * so every watched fd is drained, each until EAGAIN. Nothing polls and no thread waits.
 */
import type { FdWatcher } from "@starter/platform-shared/FdWatcher"
import type * as Libc from "@starter/platform-shared/Libc"

const F_GETFL = 3
const F_SETFL = 4
const F_SETOWN = 8
const O_ASYNC = 0o20000

export const make = (libc: Libc.Service): FdWatcher => {
  const handlers = new Map<number, () => void>()
  const onSignal = () => {
    for (const handler of [...handlers.values()]) handler()
  }
  let listening = false
  // Cleared before the fd stops being watched: SIGIO with no handler would kill the process.
  const setAsync = (fd: number, on: boolean) => {
    const flags = libc.fcntl(fd, F_GETFL, 0)
    libc.fcntl(fd, F_SETFL, on ? flags | O_ASYNC : flags & ~O_ASYNC)
  }
  return {
    watch: (fd, onReadable) => {
      if (!listening) {
        process.on("SIGIO", onSignal)
        listening = true
      }
      handlers.set(fd, onReadable)
      libc.fcntl(fd, F_SETOWN, process.pid)
      setAsync(fd, true)
      // What arrived before O_ASYNC was set raised no signal.
      setImmediate(() => handlers.get(fd)?.())
    },
    unwatch: (fd) => {
      if (!handlers.delete(fd)) return
      try {
        setAsync(fd, false)
      } catch {
        // closed already: it signals nothing any more
      }
    },
    close: () => {
      for (const fd of [...handlers.keys()]) {
        try {
          setAsync(fd, false)
        } catch {
          // closed already
        }
      }
      handlers.clear()
      // Kept installed: a SIGIO already queued must still find a handler.
    }
  }
}
