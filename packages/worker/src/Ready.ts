/**
 * Telling start_server that this worker can serve, on whichever channel it offered:
 *
 * - `--ready=notify-fd`: `READY=1` on the pipe named by STARTER_NOTIFY_FD;
 * - `--ready=ipc`: `process.send("ready")` on Node's IPC channel;
 * - `--ready=sd-notify`: sd_notify `READY=1` on NOTIFY_SOCKET. Node cannot send unix
 *   datagrams, so this runs `systemd-notify --ready` (Debian's `systemd` package).
 *
 * With none of them (Perl's start_server, `--ready=none`, probes) it does nothing: the
 * supervisor decides by itself when the worker is up.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { notifyFdVariable, readyLine, readyMessage } from "./Protocol.js"

export type ReadyChannel = "notify-fd" | "ipc" | "sd-notify"

/** The channel start_server offers this process, if any. */
export const readyChannel = (env: NodeJS.ProcessEnv = process.env): ReadyChannel | undefined => {
  if (env[notifyFdVariable] !== undefined) return "notify-fd"
  // Node removes NODE_CHANNEL_FD from the environment once it has set the channel up.
  if (process.send !== undefined && process.connected) return "ipc"
  if (env.NOTIFY_SOCKET !== undefined && env.NOTIFY_SOCKET !== "") return "sd-notify"
  return undefined
}

const viaNotifyFd = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => {
    fs.write(fd, `${readyLine}\n`, (error) => {
      if (error !== null) return reject(error)
      // Nothing else is ever written there; the supervisor sees EOF, which is harmless.
      fs.close(fd, () => resolve())
    })
  })

const viaIpc = (): Promise<void> =>
  new Promise((resolve, reject) => {
    process.send?.(readyMessage, undefined, {}, (error: Error | null) => {
      if (error !== null) return reject(error)
      // An IPC channel keeps the event loop alive; a drained worker must still exit.
      process.channel?.unref()
      resolve()
    })
  })

const viaSystemdNotify = (): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile("systemd-notify", ["--ready"], (error, _stdout, stderr) => {
      if (error === null) return resolve()
      const missing = (error as NodeJS.ErrnoException).code === "ENOENT"
      reject(
        new Error(
          missing
            ? "--ready=sd-notify needs systemd-notify (apt-get install -y systemd), or use --ready=notify-fd"
            : `systemd-notify --ready failed: ${stderr.trim() || error.message}`
        )
      )
    })
  })

let reported: Promise<void> | undefined

/** Reports readiness once (later calls answer the same promise); a no-op with no channel. */
export const ready = (env: NodeJS.ProcessEnv = process.env): Promise<void> => {
  reported ??= (() => {
    switch (readyChannel(env)) {
      case "notify-fd":
        return viaNotifyFd(Number(env[notifyFdVariable]))
      case "ipc":
        return viaIpc()
      case "sd-notify":
        return viaSystemdNotify()
      case undefined:
        return Promise.resolve()
    }
  })()
  return reported
}
