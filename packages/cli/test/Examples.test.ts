/**
 * Every example worker under start_server: 20 restarts (`kill -HUP`; 5 on the matrix's other
 * Node lines) under concurrent load on loopback, and not one request may fail or be reset. The
 * Fastify one also closes its resources in an onClose hook, which must run when its generation
 * is retired.
 */
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  freePort,
  get,
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

const examples = [
  { file: "http-worker.mjs", ready: "notify-fd" },
  { file: "express-worker.mjs", ready: "ipc" },
  { file: "fastify-worker.mjs", ready: "notify-fd" },
  { file: "effect-worker.mjs", ready: "notify-fd" }
] as const

/** start_server running examples/`file` on a free port; `generation()` reads its status file. */
const startExample = async (file: string, ready: string) => {
  const port = await freePort()
  const status = path.join(tempDir(), "status")
  const server = track(
    startServer([
      `--port=127.0.0.1:${port}`,
      `--status-file=${status}`,
      `--ready=${ready}`,
      "--",
      nodeExecutable,
      path.join(repoRoot, "examples", file)
    ])
  )
  const generation = () => Number(/^(\d+):\d+\n$/.exec(readIfExists(status) ?? "")?.[1] ?? 0)
  await waitFor("generation 1", () => (generation() === 1 ? true : undefined))
  return { port, server, generation }
}

/**
 * 20 restarts on the machine's Node; on the matrix's other lines (cli-nodeNN) 5, enough to show
 * that each example serves and restarts there without making the suite 4 × 85 s long.
 */
const restarts = process.env.STARTER_NODE === undefined ? 20 : 5

describe.each(examples)("examples/$file", ({ file, ready }) => {
  it(`serves every request through ${restarts} restarts (--ready=${ready})`, async () => {
    const { port, server, generation } = await startExample(file, ready)
    const load = startLoad(port)
    for (let restart = 1; restart <= restarts; restart++) {
      const before = generation()
      server.kill("SIGHUP")
      // Over when the status file lists one newer generation alone.
      await waitFor(`restart ${restart}`, () => (generation() > before ? true : undefined), 20_000)
    }
    const { ok, failed, reset, answeredBy } = await load.stop()
    expect(failed).toEqual([])
    expect(reset).toBe(0)
    expect(ok).toBeGreaterThan(10 * restarts)
    expect(answeredBy.size).toBeGreaterThan(restarts / 4)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  }, 120_000)
})

describe("examples/fastify-worker.mjs", () => {
  it("runs Fastify's onClose hook in the retired worker, before it exits (HUP)", async () => {
    const { port, server, generation } = await startExample("fastify-worker.mjs", "notify-fd")
    const { pid } = JSON.parse(await get(port)) as { pid: number }
    server.kill("SIGHUP")
    await waitFor("generation 2", () => (generation() === 2 ? true : undefined), 20_000)
    const died = await server.waitForLine(new RegExp(`^old worker ${pid} died, status:0$`))
    const lines = server.lines()
    const closed = lines.indexOf(`[fastify ${pid} gen 1] onClose: pool closed`)
    expect(closed).toBeGreaterThanOrEqual(0)
    expect(closed).toBeLessThan(lines.indexOf(died))
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  }, 60_000)
})
