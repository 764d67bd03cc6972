/**
 * sd_notify for workers: each worker started with `--ready=sd-notify` gets a NOTIFY_SOCKET
 * of its own, so a message says which worker it is about whichever process sends it (a
 * worker's `systemd-notify` child included), with no credentials to check.
 *
 * Messages are newline-separated `VARIABLE=value` assignments. `READY=1` marks the worker
 * ready and `STATUS=` is kept as its status text. Every fd passed with a message is closed
 * at once: that is how systemd answers `BARRIER=1`, which `systemd-notify --ready` sends and
 * then waits on. Other variables (MAINPID, WATCHDOG, FDSTORE, …) are ignored.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as FdWatcher from "./FdWatcher.js"
import type * as Libc from "./Libc.js"
import { maxUnixPath } from "./Sockaddr.js"

export interface Endpoint {
  /** The worker's NOTIFY_SOCKET. */
  readonly path: string
  readonly close: () => void
}

export interface NotifySockets {
  /** A new socket; `onMessage` receives each message's assignments. */
  readonly open: (onMessage: (fields: ReadonlyMap<string, string>) => void) => Endpoint
  /** Closes every socket and removes their directory. */
  readonly close: () => void
}

/** The assignments of one message; a line without `=` is not one and is skipped. */
export const parseMessage = (text: string): ReadonlyMap<string, string> => {
  const fields = new Map<string, string>()
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=")
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1))
  }
  return fields
}

export const make = (libc: Libc.Service, watcher: FdWatcher.FdWatcher): NotifySockets => {
  // A private directory (mode 0700): only this user's processes can send us readiness.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "starter-notify-"))
  const open = new Set<() => void>()
  let next = 0

  return {
    open: (onMessage) => {
      const socketPath = path.join(dir, `${++next}.sock`)
      if (Buffer.byteLength(socketPath) > maxUnixPath) {
        throw new Error(
          `NOTIFY_SOCKET path too long for a unix socket: ${socketPath} (set TMPDIR to a shorter directory)`
        )
      }
      const fd = libc.bindDatagram(socketPath)
      const drain = () => {
        for (;;) {
          let datagram: Libc.Datagram | undefined
          try {
            datagram = libc.receiveDatagram(fd)
          } catch {
            return // a socket error: nothing more to read now
          }
          if (datagram === undefined) return
          for (const passed of datagram.fds) libc.close(passed)
          onMessage(parseMessage(datagram.text))
        }
      }
      watcher.watch(fd, drain)
      const close = () => {
        if (!open.delete(close)) return
        watcher.unwatch(fd)
        libc.close(fd)
        fs.rmSync(socketPath, { force: true })
      }
      open.add(close)
      return { path: socketPath, close }
    },
    close: () => {
      for (const close of [...open]) close()
      watcher.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
