/**
 * Every example worker under start_server: 20 restarts (`kill -HUP`) under concurrent load
 * on loopback, and not one request may fail or be reset.
 */
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { freePort, readIfExists, repoRoot, startServer, tempDir, trackSupervisors, waitFor } from "./support/Harness.js"
import { startLoad } from "./support/Load.js"

const track = trackSupervisors()

const examples = [
  { file: "http-worker.mjs", ready: "notify-fd" },
  { file: "express-style-worker.mjs", ready: "ipc" },
  { file: "effect-worker.mjs", ready: "notify-fd" }
] as const

describe.each(examples)("examples/$file", ({ file, ready }) => {
  it(`serves every request through 20 restarts (--ready=${ready})`, async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const server = track(
      startServer([
        `--port=127.0.0.1:${port}`,
        `--status-file=${status}`,
        `--ready=${ready}`,
        "--",
        process.execPath,
        path.join(repoRoot, "examples", file)
      ])
    )
    const generation = () => Number(/^(\d+):\d+\n$/.exec(readIfExists(status) ?? "")?.[1] ?? 0)
    await waitFor("generation 1", () => (generation() === 1 ? true : undefined))
    const load = startLoad(port)
    for (let restart = 1; restart <= 20; restart++) {
      const before = generation()
      server.kill("SIGHUP")
      // Over when the status file lists one newer generation alone.
      await waitFor(`restart ${restart}`, () => (generation() > before ? true : undefined), 20_000)
    }
    const { ok, failed, reset, answeredBy } = await load.stop()
    expect(failed).toEqual([])
    expect(reset).toBe(0)
    expect(ok).toBeGreaterThan(200)
    expect(answeredBy.size).toBeGreaterThan(5)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  }, 120_000)
})
