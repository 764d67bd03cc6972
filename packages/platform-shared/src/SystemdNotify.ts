/**
 * start_server under systemd `Type=notify` (or `notify-reload`): READY=1 once the first
 * generation is up, RELOADING=1 / READY=1 around every restart, STOPPING=1 at shutdown.
 * The NOTIFY_SOCKET is taken from the environment at startup, so workers never see
 * systemd's socket (they get their own with --ready=sd-notify).
 */
import type { Lifecycle, StatusSnapshot } from "@starter/core"
import * as Effect from "effect/Effect"
import type * as Libc from "./Libc.js"

/** Removes NOTIFY_SOCKET from this process's environment and answers it. */
export const takeNotifySocket = (): string | undefined => {
  const socket = process.env.NOTIFY_SOCKET
  delete process.env.NOTIFY_SOCKET
  return socket === "" ? undefined : socket
}

/** The sd_notify message for a lifecycle event, if systemd cares about it. */
export const messageFor = (
  libc: Libc.Service,
  event: Lifecycle.Lifecycle | undefined,
  status: StatusSnapshot.StatusSnapshot
) => {
  if (event === undefined) return undefined
  const summary = `STATUS=generation ${status.generation}, ${status.workers.length} workers`
  switch (event._tag) {
    case "RolloutStarted":
      return event.epoch > 1 ? `RELOADING=1\nMONOTONIC_USEC=${libc.monotonicMicros()}\nSTATUS=restarting` : undefined
    case "RolloutCompleted":
    case "RolloutAbandoned":
    case "RolloutSuperseded":
      return `READY=1\n${summary}`
    case "ShutdownStarted":
      return "STOPPING=1"
    default:
      return undefined
  }
}

/**
 * A new supervisor has taken over (`start_server upgrade`): it is the main process now
 * (systemd accepts this from it only with `NotifyAccess=all`), and the reload is over.
 */
export const takenOver = (pid: number, status: StatusSnapshot.StatusSnapshot): string =>
  `MAINPID=${pid}\nREADY=1\nSTATUS=generation ${status.generation}, ${status.workers.length} workers`

/** An upgrade begins (`start_server upgrade`): systemd shows the service as reloading. */
export const reloading = (libc: Libc.Service): string =>
  `RELOADING=1\nMONOTONIC_USEC=${libc.monotonicMicros()}\nSTATUS=upgrading`

/** The upgrade failed: the reload is over, this supervisor serves on (and the status says so, not "upgrading"). */
export const upgradeFailed = (): string => "READY=1\nSTATUS=upgrade failed, serving as before"

export const notify = (libc: Libc.Service, socket: string, message: string) =>
  Effect.try(() => libc.sendDatagram(socket, message)).pipe(
    Effect.catchAll((e) => Effect.logWarning(`failed to notify systemd at ${socket}: ${String(e.error)}`))
  )
