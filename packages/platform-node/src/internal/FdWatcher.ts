/**
 * The fd watcher under Node. One `epoll_wait` runs at a time, in a thread of libuv's pool, and only
 * while some fd is watched: the event loop never polls, and waiting costs no CPU. (With
 * `--ready=sd-notify` every worker's socket stays watched, so one of libuv's four pool threads
 * waits there for as long as workers run.)
 */
import type { FdWatcher } from "@starter/platform-shared/FdWatcher"
import * as libc from "./libc.js"

const maxEvents = 64

export const make = (): FdWatcher => {
  const epfd = libc.epollCreate()
  const wake = libc.eventfd()
  libc.epollAdd(epfd, wake)
  const handlers = new Map<number, () => void>()
  let waiting = false
  let closed = false

  // Node joins the pool's threads at exit: a wait still blocked would hang the process.
  const onExit = () => libc.signalEventfd(wake)
  process.on("exit", onExit)

  const release = () => {
    process.off("exit", onExit)
    libc.close(wake)
    libc.close(epfd)
  }

  const arm = () => {
    if (waiting || closed || handlers.size === 0) return
    waiting = true
    libc.epollWait(epfd, maxEvents, (fds) => {
      waiting = false
      if (closed) return release()
      for (const fd of fds) {
        if (fd === wake) libc.drainEventfd(wake)
        else handlers.get(fd)?.()
      }
      arm()
    })
  }

  return {
    watch: (fd, onReadable) => {
      libc.epollAdd(epfd, fd)
      handlers.set(fd, onReadable)
      arm()
    },
    unwatch: (fd) => {
      if (!handlers.delete(fd)) return
      libc.epollRemove(epfd, fd)
      // Nothing left to watch: let the waiting thread go back to the pool.
      if (handlers.size === 0 && waiting) libc.signalEventfd(wake)
    },
    close: () => {
      if (closed) return
      closed = true
      handlers.clear()
      if (waiting) libc.signalEventfd(wake)
      else release()
    }
  }
}
