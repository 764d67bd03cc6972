/**
 * `start_server status --control-socket=PATH [--json]`: the running supervisor's state,
 * as a table for people or as the control socket's JSON.
 */
import type { StatusSnapshot } from "@starter/core"
import * as Effect from "effect/Effect"
import type { CliOptions } from "./CliOptions.js"
import { request } from "./ControlClient.js"
import { exitWithMessage, WrapperError } from "./PidFileReader.js"

/** A supervisor answers `status` at once; one that does not within this is stuck. */
export const defaultTimeoutMs = 10_000

const ago = (iso: string | null, now: number) => {
  if (iso === null) return "-"
  const s = Math.round((now - Date.parse(iso)) / 1000)
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`
}

export const table = (status: StatusSnapshot.StatusSnapshot, now: number): string => {
  const rows = status.workers.map((w) => [
    String(w.pid),
    String(w.generation),
    String(w.index),
    w.state,
    ago(w.startedAt, now),
    ago(w.readyAt, now)
  ])
  const header = ["PID", "GEN", "INDEX", "STATE", "STARTED", "READY"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  const exits = status.recentExits
    .slice(-5)
    .map(
      (e) =>
        `  ${e.pid} (gen ${e.generation}) ${e.signal === null ? `exit ${e.code}` : `signal ${e.signal}`} at ${e.at}`
    )
  return [
    `state: ${status.state}, generation ${status.generation}, ${status.workers.length}/${status.targetWorkers} workers${status.crashLoop ? ", CRASH LOOP (backing off)" : ""}`,
    `last restart: ${status.lastRestart.reason}, completed ${status.lastRestart.completedAt ?? "-"}`,
    "",
    line(header),
    ...rows.map(line),
    ...(exits.length > 0 ? ["", "recent exits:", ...exits] : [])
  ].join("\n")
}

export const status = (options: CliOptions): Effect.Effect<number> =>
  Effect.gen(function* () {
    if (options.controlSocket === undefined) {
      return yield* new WrapperError({ message: "status requires --control-socket", exitCode: 255 })
    }
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
    const answered = yield* request(options.controlSocket, { cmd: "status" }).pipe(Effect.timeoutOption(timeoutMs))
    if (answered._tag === "None") {
      return yield* new WrapperError({
        message: `no answer from ${options.controlSocket} within ${timeoutMs / 1000} secs`,
        exitCode: 124
      })
    }
    const reply = answered.value
    if (reply.ok !== true) return yield* new WrapperError({ message: reply.error ?? "status failed", exitCode: 1 })
    const text = options.json
      ? JSON.stringify(reply.result, null, 2)
      : table(reply.result as StatusSnapshot.StatusSnapshot, Date.now())
    process.stdout.write(`${text}\n`)
    return 0
  }).pipe(exitWithMessage)
