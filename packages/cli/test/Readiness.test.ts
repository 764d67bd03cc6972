/**
 * Explicit readiness end to end: for every channel, a restart retires the old generation
 * only once the new one has reported ready, never on the `--interval` timer (set to 0 here,
 * so a channel that did not work would retire the old worker at once).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  fixtures,
  freePort,
  get,
  nodeExecutable,
  readIfExists,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { systemdNotifyMissing } from "./support/Perl.js"

const track = trackSupervisors()
const worker = path.join(fixtures, "ready-worker.mjs")

const launch =
  (ready: string, via: string, extraEnv: Record<string, string> = {}) =>
  async () => {
    const dir = tempDir()
    const port = await freePort()
    const events = path.join(dir, "events")
    const status = path.join(dir, "status")
    const server = track(
      startServer(
        [
          `--port=127.0.0.1:${port}`,
          `--status-file=${status}`,
          "--interval=0",
          `--ready=${ready.replace("DIR", dir)}`,
          "--ready-timeout=10s",
          "--",
          nodeExecutable,
          worker
        ],
        {
          env: {
            EVENTS_FILE: events,
            READY_VIA: via,
            READY_DELAY_MS: "400",
            HEALTH_SOCKET: `${dir}/{pid}.sock`,
            ...extraEnv
          }
        }
      )
    )
    await waitFor("generation 1 in the status file", () => (readIfExists(status) === undefined ? undefined : true))
    expect(await get(port)).toBe("generation 1\n")
    server.kill("SIGHUP")
    await waitFor("generation 2 alone", () => (/^2:\d+\n$/.test(readIfExists(status) ?? "") ? true : undefined))
    await waitFor("the old worker's TERM", () => (readIfExists(events)?.includes("term 1") ? true : undefined))
    const sent = (readIfExists(events) ?? "").split("\n").filter((line) => !line.startsWith("notified"))
    expect(sent).toEqual(["ready 1", "ready 2", "term 1", ""])
    if (via.startsWith("systemd-notify")) {
      // Unanswered, systemd-notify --ready would wait 5 s for its barrier, then fail.
      await waitFor(
        "systemd-notify to succeed",
        () => (readIfExists(events)?.includes("notified 2") ? true : undefined),
        3000
      )
    }
    expect(await get(port)).toBe("generation 2\n")
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
    // A probe's per-worker socket, and the sd_notify sockets, are gone with their workers.
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".sock"))).toEqual([])
  }

describe("--ready: the old generation is retired only once the new one is ready", () => {
  it("notify-fd", launch("notify-fd", "notify-fd"))
  it("ipc", launch("ipc", "ipc"))
  it.skipIf(systemdNotifyMissing())(
    "sd-notify, with systemd-notify --ready (it waits for its barrier)",
    launch("sd-notify", "systemd-notify")
  )
  it.skipIf(systemdNotifyMissing())(
    "sd-notify, with systemd-notify --ready --no-block",
    launch("sd-notify", "systemd-notify-no-block")
  )
  it("a unix: connect probe on each worker's own socket", launch("unix:DIR/{pid}.sock", "health"))
  it("an http:// probe on each worker's own socket", launch("http://unix:DIR/{pid}.sock:/health", "health"))
})

describe("--ready: a worker that is not ready in time", () => {
  it("is stopped, with the probe's last error as the reason; the old generation keeps serving", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const mute = path.join(dir, "mute")
    const server = track(
      startServer(
        [
          `--port=127.0.0.1:${port}`,
          `--status-file=${status}`,
          `--ready=unix:${dir}/{pid}.sock`,
          "--ready-timeout=600ms",
          "--max-start-attempts=1",
          "--",
          "sh",
          "-c",
          // exec keeps the pid, so {pid} is the worker's own
          `[ -e ${mute} ] && export READY_VIA=never; exec ${nodeExecutable} ${worker}`
        ],
        { env: { READY_VIA: "health", HEALTH_SOCKET: `${dir}/{pid}.sock` } }
      )
    )
    const first = await waitFor("generation 1", () => /^1:(\d+)\n$/.exec(readIfExists(status) ?? "")?.[1])
    fs.writeFileSync(mute, "")
    server.kill("SIGHUP")
    const late = await server.waitForLine(/did not become ready within/)
    expect(late).toMatch(
      new RegExp(
        `^new worker (\\d+) did not become ready within 0.6 secs \\(unix:${dir}/\\1.sock: connect ENOENT ${dir}/\\1.sock\\), stopping it$`
      )
    )
    await server.waitForLine(
      new RegExp(`^giving up the restart after 1 failed attempts; old workers keep serving:${first}$`)
    )
    // Stopped, it may still answer until it has closed its socket: ask once it is gone.
    await server.waitForLine(/^new worker \d+ died, status:/)
    expect(await get(port)).toBe("generation 1\n")
    expect(readIfExists(status)).toBe(`1:${first}\n`)
  })
})
