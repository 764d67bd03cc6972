/**
 * What the supervisor writes for people and scripts: its log lines and the status file.
 * Where Perl's start_server has a line, it is Perl's byte for byte (operators' scripts grep
 * them); the lines Perl lacks follow its wording and `key:value` style.
 */
import type { RestartReason, ShutdownOrigin } from "./Event.js"
import { type ExitStatus, waitStatus } from "./ExitStatus.js"

interface Listed {
  /** `undefined` until the process exists: such workers are not listed. */
  readonly pid: number | undefined
}

interface Served extends Listed {
  readonly generation: number
  readonly readyAt: number | undefined
}

const byPerlOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Perl prints pid lists sorted as strings (`sort keys`). */
export const pidList = (workers: ReadonlyArray<Listed>): string =>
  workers
    .flatMap((w) => (w.pid === undefined ? [] : [String(w.pid)]))
    .sort(byPerlOrder)
    .join(",")

/**
 * Status-file content: `gen:pid` for every running worker that was ever ready. Perl sorts
 * the generations as strings (`sort keys`: 1, 10, 11, 2); workers of one generation (ours,
 * with --workers) by pid, also as strings. A new worker stopped before it was ready (a
 * timeout, a shutdown) never served, and is not listed.
 */
export const statusContent = (workers: ReadonlyArray<Served>): string =>
  workers
    .flatMap((w) =>
      w.pid !== undefined && w.readyAt !== undefined ? [[String(w.generation), String(w.pid)] as const] : []
    )
    .sort(([ga, pa], [gb, pb]) => byPerlOrder(ga, gb) || byPerlOrder(pa, pb))
    .map(([generation, pid]) => `${generation}:${pid}\n`)
    .join("")

const seconds = (ms: number): string => String(Math.round(ms / 1000))

// ---------------------------------------------------------------------------------------
// Restarts

/** An auto-restart logs why it triggered instead (`autoRestartTriggered`). */
export const restarting = (reason: RestartReason): string | undefined =>
  reason === "hup"
    ? "received HUP, spawning a new worker"
    : reason === "control"
      ? "received restart request, spawning a new worker"
      : undefined

export const restartQueued = (reason: RestartReason): string =>
  `received ${reason === "hup" ? "HUP" : "restart request"}, a restart is in progress; queueing one more`

export const queuedRestartStarting = "starting the restart that was requested during the previous one"

export const autoRestartTriggered = (forced: boolean, intervalMs: number): string =>
  `autorestart triggered (${forced ? "forced, " : ""}interval=${seconds(intervalMs)})`

export const retiringOld = (signal: string, leaving: ReadonlyArray<Listed>): string =>
  `new worker is now running, sending ${signal} to old workers:${pidList(leaving)}`

export const retireDelay = (delayMs: number): string => `sleeping ${seconds(delayMs)} secs before killing old workers`

export const killingOld = "killing old workers"

/** Ours (Perl cannot upgrade itself): the old supervisor retires its workers and exits. */
export const handingOver = (signal: string, leaving: ReadonlyArray<Listed>): string =>
  `the new supervisor is serving, sending ${signal} to this supervisor's workers:${pidList(leaving)}`

export const scaling = (from: number, to: number): string => `scaling from ${from} to ${to} workers`

export const scalingDown = (signal: string, surplus: ReadonlyArray<Listed>): string =>
  `scaling down, sending ${signal} to workers:${pidList(surplus)}`

// ---------------------------------------------------------------------------------------
// Starts

export const starting = (pid: number): string => `starting new worker ${pid}`

const newWorker = (pid: number | undefined): string => (pid === undefined ? "new worker " : `new worker ${pid} `)

/** `failure` as Perl words it: `exit status:768`. */
export const failedToStart = (pid: number | undefined, failure: string): string =>
  `${newWorker(pid)}seems to have failed to start, ${failure}`

export const notReady = (pid: number | undefined, timeoutMs: number, detail: string | undefined): string =>
  `${newWorker(pid)}did not become ready within ${timeoutMs / 1000} secs${detail === undefined ? "" : ` (${detail})`}, stopping it`

export const gaveUp = (attempts: number): string =>
  `giving up after ${attempts} failed attempts to start the server program`

export const gaveUpRestart = (attempts: number, keep: ReadonlyArray<Listed>): string =>
  `giving up the restart after ${attempts} failed attempts; old workers keep serving:${pidList(keep)}`

/** Ours: Perl's line (`failed to exec PROG:ERROR`), then why start_server exits at once. */
export const cannotRunAtFirstStart = (message: string): string => `${message} (not retrying: no worker has started yet)`

export const gaveUpRestartCannotRun = (reason: string, keep: ReadonlyArray<Listed>): string =>
  `giving up the restart: ${reason}; old workers keep serving:${pidList(keep)}`

// ---------------------------------------------------------------------------------------
// Exits

export const crashed = (pid: number | undefined, status: ExitStatus): string =>
  `worker ${pid} died unexpectedly with status:${waitStatus(status)}, restarting`

export const crashLoop = (crashes: number, windowMs: number, loopCrashes: number, delayMs: number): string =>
  `crash loop: ${crashes} crashes in the last ${windowMs / 1000} s, ${loopCrashes} since it began; starting the next worker in ${delayMs} ms`

/** A new worker stopped before it was ready (a readiness timeout) never was an old one. */
export const retiredExited = (w: Listed & { readonly readyAt: number | undefined }, status: ExitStatus): string =>
  `${w.readyAt === undefined ? "new" : "old"} worker ${w.pid} died, status:${waitStatus(status)}`

/** `3000` → `port 3000`; `127.0.0.1:3000` and paths as they are. */
const listenTarget = (key: string): string => (/^\d+$/.test(key) ? `port ${key}` : key)

/** Ours: the likely cause of a loop of quick exits (see Machine's `noteListenConflict`). */
export const listenConflict = (
  pid: number,
  status: ExitStatus,
  afterMs: number,
  listening: ReadonlyArray<string>,
  said: boolean
): string =>
  `worker ${pid} exited with status:${waitStatus(status)} ${(afterMs / 1000).toFixed(1)} s after it started, ` +
  (said ? "saying EADDRINUSE: " : "as did the one before: likely ") +
  `its own listen() on ${listening.map(listenTarget).join(", ")} failed with EADDRINUSE, as start_server holds it; ` +
  "start it as `node --import @starter/worker/register app.js` to listen on the inherited socket " +
  "(or have it read SERVER_STARTER_PORT)"

export const killing = (pid: number, afterMs: number): string =>
  `worker ${pid} did not exit ${afterMs / 1000} secs after being signalled, sending KILL`

// ---------------------------------------------------------------------------------------
// Shutdown

const shutdownCauses: Record<ShutdownOrigin, (signal: string) => string> = {
  signal: (signal) => `received ${signal}`,
  scope: () => "the supervisor's scope is closing",
  control: () => "the control socket asked to stop"
}

export const stoppingAll = (
  origin: ShutdownOrigin,
  received: string,
  sent: string,
  workers: ReadonlyArray<Listed>
): string => `${shutdownCauses[origin](received)}, sending ${sent} to all workers:${pidList(workers)}`

export const exitedWhileStopping = (pid: number | undefined, status: ExitStatus): string =>
  `worker ${pid} died, status:${waitStatus(status)}`

export const exiting = "exiting"
