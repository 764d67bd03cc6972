/**
 * Calls back when raw fds become readable, for the fds a runtime cannot watch itself (unix
 * datagram sockets: the workers' NOTIFY_SOCKETs). Each runtime implements it without ever
 * polling: Node waits in a pool thread, Bun is told by the kernel (SIGIO).
 */
export interface FdWatcher {
  /** `onReadable` runs on the main thread each time `fd` has data; read it until EAGAIN. */
  readonly watch: (fd: number, onReadable: () => void) => void
  readonly unwatch: (fd: number) => void
  /** Stops watching everything and releases what the watcher holds. */
  readonly close: () => void
}
