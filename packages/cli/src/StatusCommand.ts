/**
 * `start_server status [--json]`: the running supervisor's state, as text for people or as
 * the control socket's JSON (with each worker's RSS and CPU added from /proc). Its exit
 * status answers probes: 0 while some worker serves, 1 while none does, 3 when no
 * start_server runs.
 */
import * as ControlReplies from "@starter/core/ControlReplies"
import type * as StatusSnapshot from "@starter/core/StatusSnapshot"
import { writeStdout } from "@starter/platform-shared/Stderr"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { CliOptions } from "./CliOptions.js"
import { ask } from "./ControlClient.js"
import { exitWithMessage } from "./PidFileReader.js"
import * as WorkerUsage from "./WorkerUsage.js"

export const exitCodes = { serving: 0, notServing: 1, notRunning: 3, timeout: 124 } as const

type Snapshot = StatusSnapshot.StatusSnapshot

/** `42s`, `7m`, `3h`, `2d`. */
export const duration = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000))
  return s < 120
    ? `${s}s`
    : s < 7200
      ? `${Math.round(s / 60)}m`
      : s < 172_800
        ? `${Math.round(s / 3600)}h`
        : `${Math.round(s / 86_400)}d`
}

const since = (iso: string | null, now: number) => (iso === null ? "-" : duration(now - Date.parse(iso)))

const states: Record<Snapshot["state"], string> = {
  starting: "starting",
  serving: "serving",
  restarting: "restarting",
  "backing-off": "BACKING OFF (respawns wait)",
  "crash-loop": "CRASH LOOP (workers die soon after starting; respawns back off)",
  stopping: "stopping"
}

/** The last restart in one line: what, when, and how it ended. */
export const restartLine = (status: Snapshot, now: number): string => {
  const r = status.lastRestart
  const what = r.reason === "boot" ? "start" : `restart (${r.reason})`
  const when = `${since(r.startedAt, now)} ago`
  const failures = r.failedStarts === 0 ? "" : `, ${r.failedStarts} failed start${r.failedStarts === 1 ? "" : "s"}`
  switch (r.outcome) {
    case "in-progress":
      return `last ${what}: in progress since ${when}${failures}${r.lastFailure === null ? "" : ` (last: ${r.lastFailure})`}`
    case "ready":
      return `last ${what}: ready ${since(r.endedAt, now)} ago, generation ${r.generation}${failures}`
    case "failed":
      return `last ${what}: FAILED ${since(r.endedAt, now)} ago, given up after ${r.failedStarts} failed start${r.failedStarts === 1 ? "" : "s"}: ${r.lastFailure}; generation ${status.servingGeneration ?? "-"} keeps serving`
    case "superseded":
      return `last ${what}: superseded ${since(r.endedAt, now)} ago by a newer restart`
    case "interrupted":
      return `last ${what}: interrupted by the shutdown`
  }
}

export const table = (status: Snapshot, now: number, usage: (pid: number) => WorkerUsage.Usage | undefined): string => {
  const rows = status.workers.map((w) => {
    const u = usage(w.pid)
    return [
      String(w.pid),
      String(w.generation),
      String(w.index),
      w.state,
      since(w.startedAt, now),
      w.readyAt === null ? "-" : since(w.readyAt, now),
      String(w.restarts),
      u === undefined ? "-" : WorkerUsage.formatBytes(u.rssBytes),
      u === undefined ? "-" : `${u.cpuSeconds.toFixed(2)}s`
    ]
  })
  const header = ["PID", "GEN", "INDEX", "STATE", "UPTIME", "READY", "RESTARTS", "RSS", "CPU"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  const serving = status.workers.filter((w) => w.state === "serving").length
  const exits = status.recentExits.slice(-5).map((e) => `  ${e.pid} (gen ${e.generation}) ${e.description} at ${e.at}`)
  return [
    `state: ${states[status.state]}${status.crashLoop && status.state !== "crash-loop" ? ", in a CRASH LOOP" : ""}; serving generation ${status.servingGeneration ?? "none"}, ${serving}/${status.targetWorkers} workers serving`,
    restartLine(status, now),
    ...(status.supervisor === undefined
      ? []
      : [
          `supervisor: pid ${status.supervisor.pid}${status.supervisor.version === undefined ? "" : `, version ${status.supervisor.version}`}`
        ]),
    "",
    line(header),
    ...rows.map(line),
    ...(exits.length > 0 ? ["", "recent exits:", ...exits] : [])
  ].join("\n")
}

/** What probes read: whether any worker serves. */
export const exitCodeOf = (status: Snapshot): number =>
  status.workers.some((w) => w.state === "serving") ? exitCodes.serving : exitCodes.notServing

const withUsage = (status: Snapshot) => ({
  ...status,
  workers: status.workers.map((w) => {
    const u = WorkerUsage.read(w.pid)
    return { ...w, rssBytes: u?.rssBytes ?? null, cpuSeconds: u?.cpuSeconds ?? null }
  })
})

export const status = (options: CliOptions, controlSocket: string): Effect.Effect<number> =>
  Effect.gen(function* () {
    const snapshot = yield* ask(options, controlSocket, { cmd: "status" }, ControlReplies.Status)
    const now = yield* Clock.currentTimeMillis
    const text = options.json ? JSON.stringify(withUsage(snapshot), null, 2) : table(snapshot, now, WorkerUsage.read)
    writeStdout(`${text}\n`)
    return exitCodeOf(snapshot)
  }).pipe(exitWithMessage)
