/**
 * N workers per generation under concurrent HTTP load through rolling restarts: not one
 * request may fail. Loopback only, bounded in count and time.
 */
import * as http from "node:http"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { freePort, readIfExists, repoRoot, startServer, tempDir, trackSupervisors, waitFor } from "./support/Harness.js"

const track = trackSupervisors()

const request = (port: number, agent: http.Agent | false) =>
  new Promise<string>((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, agent, timeout: 10_000 }, (res) => {
      let body = ""
      res.on("data", (c: Buffer) => {
        body += c.toString()
      })
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}`))))
    })
    req.on("error", reject)
    req.on("timeout", () => req.destroy(new Error("timeout")))
  })

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
      process.execPath,
      path.join(repoRoot, "examples/http-worker.mjs")
    ])
    track(server)
    await waitFor("4 workers", () =>
      (readIfExists(status) ?? "").split("\n").filter(Boolean).length === 4 ? true : undefined
    )

    let stop = false
    let ok = 0
    const failures: Array<string> = []
    const answeredBy = new Set<string>()
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 })
    // 8 clients: half open a connection per request, half reuse keep-alive connections.
    const clients = Array.from({ length: 8 }, async (_, i) => {
      for (let n = 0; !stop && n < 5000; n++) {
        try {
          const body = await request(port, i % 2 === 0 ? false : keepAlive)
          answeredBy.add(body.split(",")[0] ?? "")
          ok += 1
        } catch (error) {
          // A keep-alive connection closed by a draining worker is retried by any real client
          // only if it was idle; one that fails mid-request is a loss.
          failures.push(String(error))
        }
      }
    })
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
    stop = true
    await Promise.all(clients)
    keepAlive.destroy()
    expect(failures).toEqual([])
    expect(ok).toBeGreaterThan(100)
    // Generations 1 and 11 at least answered: the load really crossed the restarts.
    expect(answeredBy.size).toBeGreaterThan(2)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  }, 120_000)
})
