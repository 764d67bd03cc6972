/**
 * The binary end to end with a real Node HTTP worker: serve, HUP to a new generation,
 * crash respawn, TERM to a clean exit with every file removed.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  fixtures,
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

const worker = path.join(repoRoot, "examples/http-worker.mjs")
const track = trackSupervisors()

const statusPids = (content: string | undefined) =>
  (content ?? "")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split(":"))

describe("start_server with a Node HTTP worker", () => {
  it("serves, restarts on HUP through 1:A -> 1:A,2:B -> 2:B, and exits 0 on TERM removing its files", async () => {
    const slowExit = path.join(fixtures, "http-worker.mjs")
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const pidFile = path.join(dir, "pid")
    const sock = path.join(dir, "app.sock")
    const server = startServer(
      [
        `--port=127.0.0.1:${port}`,
        `--path=${sock}`,
        `--status-file=${status}`,
        `--pid-file=${pidFile}`,
        "--",
        nodeExecutable,
        slowExit
      ],
      { env: { EXIT_DELAY_MS: "300" } }
    )
    track(server)
    await server.waitForLine(/^starting new worker \d+$/)
    expect(server.lines()[0]).toBe(`start_server (pid:${server.pid}) starting now...`)
    expect(readIfExists(pidFile)).toBe(`${server.pid}\n`)

    const first = await waitFor("status 1:PID", () => {
      const lines = statusPids(readIfExists(status))
      return lines.length === 1 && lines[0]![0] === "1" ? lines[0]![1] : undefined
    })
    expect(await get(port)).toBe(`hello from generation 1, pid ${first}\n`)
    expect(fs.statSync(sock).isSocket()).toBe(true)

    const seen = new Set<string>()
    const watcher = setInterval(() => {
      const content = readIfExists(status)
      if (content !== undefined) seen.add(content)
    }, 5)
    server.kill("SIGHUP")
    const second = await waitFor("status 2:PID alone", () => {
      const lines = statusPids(readIfExists(status))
      return lines.length === 1 && lines[0]![0] === "2" ? lines[0]![1] : undefined
    })
    clearInterval(watcher)
    seen.add(readIfExists(status) ?? "") // the poll above may have seen the last state first
    expect(second).not.toBe(first)
    expect([...seen]).toEqual([`1:${first}\n`, `1:${first}\n2:${second}\n`, `2:${second}\n`])
    expect(await get(port)).toBe(`hello from generation 2, pid ${second}\n`)
    expect(server.lines()).toEqual(
      expect.arrayContaining([
        "received HUP, spawning a new worker",
        `new worker is now running, sending TERM to old workers:${first}`,
        "killing old workers",
        `old worker ${first} died, status:0`
      ])
    )

    server.kill("SIGTERM")
    expect(await server.exited).toEqual({ code: 0, signal: null })
    expect(server.lines().slice(-3)).toEqual([
      `received TERM, sending TERM to all workers:${second}`,
      `worker ${second} died, status:0`,
      "exiting"
    ])
    expect(fs.existsSync(pidFile)).toBe(false)
    expect(fs.existsSync(status)).toBe(false)
    expect(fs.existsSync(sock)).toBe(false)
  })

  it("respawns a crashed worker with the next generation", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const server = startServer([`--port=127.0.0.1:${port}`, `--status-file=${status}`, "--", nodeExecutable, worker])
    track(server)
    const first = await waitFor("gen 1", () => statusPids(readIfExists(status))[0]?.[1])
    process.kill(Number(first), "SIGKILL")
    await server.waitForLine(new RegExp(`^worker ${first} died unexpectedly with status:9, restarting$`))
    const second = await waitFor("gen 2", () => {
      const line = statusPids(readIfExists(status))[0]
      return line?.[0] === "2" ? line[1] : undefined
    })
    expect(await get(port)).toBe(`hello from generation 2, pid ${second}\n`)
    server.kill("SIGINT")
    expect((await server.exited).code).toBe(0)
  })

  it("keeps the socket listening while no worker runs, so connections wait instead of failing", async () => {
    const dir = tempDir()
    const port = await freePort()
    const marker = path.join(dir, "allow")
    // The worker refuses to start until the marker exists: nobody accepts meanwhile.
    const gate = `while [ ! -e ${marker} ]; do sleep 0.05; done; exec ${nodeExecutable} ${worker}`
    const server = startServer([`--port=127.0.0.1:${port}`, "--interval=0", "--", "sh", "-c", gate])
    track(server)
    await server.waitForLine(/^starting new worker/)
    const socket = net.connect(port, "127.0.0.1")
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve)
      socket.once("error", reject)
    })
    socket.write("GET / HTTP/1.0\r\n\r\n")
    let reply = ""
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString()
    })
    fs.writeFileSync(marker, "")
    await waitFor("the queued request to be answered", () =>
      reply.includes("hello from generation 1") ? true : undefined
    )
    socket.destroy()
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })
})
