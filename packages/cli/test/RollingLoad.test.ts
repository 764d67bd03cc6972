/**
 * N workers per generation under concurrent HTTP load through rolling restarts: not one
 * request may fail. Loopback only, bounded in count and time.
 */
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  freePort,
  nodeExecutable,
  readIfExists,
  repoRoot,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { startLoad } from "./support/Load.js"

const track = trackSupervisors()

const generations = (status: string) =>
  new Set(
    (readIfExists(status) ?? "")
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(":")[0])
  )

describe("--workers 4 with rolling restarts under load", () => {
  it("serves every request through 10 rolling restarts", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const server = startServer([
      `--port=127.0.0.1:${port}`,
      `--status-file=${status}`,
      "--workers=4",
      "--max-surge=2",
      "--ready=notify-fd",
      "--",
      nodeExecutable,
      path.join(repoRoot, "examples/http-worker.mjs")
    ])
    track(server)
    await waitFor("4 workers", () =>
      (readIfExists(status) ?? "").split("\n").filter(Boolean).length === 4 ? true : undefined
    )

    const load = startLoad(port)
    for (let restart = 1; restart <= 10; restart++) {
      const before = Math.max(...[...generations(status)].map(Number))
      server.kill("SIGHUP")
      // A restart is over when only newer generations are listed (4 workers).
      await waitFor(
        `restart ${restart}`,
        () => {
          const gens = [...generations(status)].map(Number)
          const lines = (readIfExists(status) ?? "").split("\n").filter(Boolean).length
          return lines === 4 && gens.every((g) => g > before) ? true : undefined
        },
        20_000
      )
    }
    const { ok, failed, reset, answeredBy } = await load.stop()
    expect(failed).toEqual([])
    expect(reset).toBe(0)
    expect(ok).toBeGreaterThan(100)
    // Generations 1 and 11 at least answered: the load really crossed the restarts.
    expect(answeredBy.size).toBeGreaterThan(2)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  }, 120_000)
})
