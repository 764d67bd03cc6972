/** --json-status-file and --metrics-file follow the supervisor's state and go away with it. */
import * as fs from "node:fs"
import * as path from "node:path"
import type { StatusSnapshot } from "@starter/core"
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

const track = trackSupervisors()

describe("--json-status-file and --metrics-file", () => {
  it("describe every generation and restart, and are removed at exit", async () => {
    const dir = tempDir()
    const json = path.join(dir, "status.json")
    const metrics = path.join(dir, "metrics.prom")
    const port = await freePort()
    const server = startServer([
      `--port=127.0.0.1:${port}`,
      `--json-status-file=${json}`,
      `--metrics-file=${metrics}`,
      "--interval=0",
      "--",
      nodeExecutable,
      path.join(fixtures, "http-worker.mjs")
    ])
    track(server)
    const read = () => JSON.parse(readIfExists(json) ?? "null") as StatusSnapshot.StatusSnapshot | null
    await waitFor("generation 1 serving", () => (read()?.state === "serving" ? true : undefined))
    // --interval=0 calls a worker up at once; wait until it has its TERM handler (it serves).
    await get(port)
    server.kill("SIGHUP")
    const after = await waitFor("generation 2 alone", () => {
      const s = read()
      return s?.workers.length === 1 && s.workers[0]!.generation === 2 ? s : undefined
    })
    expect(after.lastRestart.reason).toBe("hup")
    expect(after.recentExits).toEqual([expect.objectContaining({ generation: 1, code: 0, signal: null })])
    // The metrics file is folded from the events, the JSON file from the latest state: it may
    // show generation 2 alone a moment before the old worker's exit event has been counted.
    const text = await waitFor("the old worker's exit in the metrics", () => {
      const t = readIfExists(metrics) ?? ""
      return t.includes('starter_worker_exits_total{code="0"} 1\n') ? t : undefined
    })
    expect(text).toContain('starter_restarts_total{result="ready"} 1\n')
    expect(text).toContain("starter_generation 2\n")
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
    expect(fs.existsSync(json)).toBe(false)
    expect(fs.existsSync(metrics)).toBe(false)
  })
})
