/**
 * The control socket against a running supervisor: status (table and JSON), restart with
 * a truthful outcome, scale, subscribe, and malformed requests that must not hurt it.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import type { StatusSnapshot } from "@starter/core"
import { describe, expect, it } from "vitest"
import {
  fixtures,
  freePort,
  get,
  nodeExecutable,
  runToExit,
  startServer,
  startServerBin,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const worker = path.join(fixtures, "http-worker.mjs")
const track = trackSupervisors()

/** `start_server status --json`, or undefined while the supervisor cannot answer yet. */
const statusJson = (control: string): StatusSnapshot.StatusSnapshot | undefined => {
  try {
    return JSON.parse(
      execFileSync(startServerBin, ["status", `--control-socket=${control}`, "--json"], { encoding: "utf8" })
    ) as StatusSnapshot.StatusSnapshot
  } catch {
    return undefined
  }
}

/** A raw control connection: send lines, collect reply lines. */
/** Connected once the supervisor listens: its socket file may exist a moment before (Bun binds, then listens). */
const connectedSocket = async (socketPath: string): Promise<net.Socket> => {
  const deadline = Date.now() + 10_000
  for (;;) {
    const socket = net.connect(socketPath)
    const error = await new Promise<Error | undefined>((resolve) => {
      socket.once("connect", () => resolve(undefined))
      socket.once("error", resolve)
    })
    if (error === undefined) return socket
    socket.destroy()
    if (Date.now() > deadline) throw error
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const connect = async (socketPath: string) => {
  const socket = await connectedSocket(socketPath)
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
  const lines: Array<Record<string, unknown>> = []
  let buffer = ""
  socket.setEncoding("utf8")
  socket.on("data", (chunk: string) => {
    buffer += chunk
    for (let i = buffer.indexOf("\n"); i !== -1; i = buffer.indexOf("\n")) {
      lines.push(JSON.parse(buffer.slice(0, i)) as Record<string, unknown>)
      buffer = buffer.slice(i + 1)
    }
  })
  return { socket, lines, closed, send: (text: string) => socket.write(`${text}\n`) }
}

const boot = async (extra: ReadonlyArray<string> = [], env: Record<string, string> = {}) => {
  const dir = tempDir()
  const port = await freePort()
  const control = path.join(dir, "control.sock")
  const server = startServer(
    [`--port=127.0.0.1:${port}`, `--control-socket=${control}`, "--interval=0", ...extra, "--", nodeExecutable, worker],
    { env }
  )
  track(server)
  await waitFor("the control socket", () => (fs.existsSync(control) ? true : undefined))
  return { dir, port, control, server }
}

describe("--control-socket", () => {
  it("is owner-only and answers status as a table and as JSON", async () => {
    const { control } = await boot(["--workers=2"])
    expect(fs.statSync(control).mode & 0o777).toBe(0o600)
    const json = await waitFor("two serving workers", () => {
      const r = statusJson(control)
      return r?.workers.length === 2 && r.state === "serving" ? r : undefined
    })
    expect(json.targetWorkers).toBe(2)
    expect(json.workers.map((w) => w.index).sort()).toEqual([0, 1])
    const table = await runToExit(["status", `--control-socket=${control}`])
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^state: serving; serving generation 1, 2\/2 workers serving/)
    expect(table.stdout).toMatch(/PID\s+GEN\s+INDEX\s+STATE\s+UPTIME\s+READY\s+RESTARTS\s+RSS\s+CPU/)
  })

  it("answers malformed requests with an error and keeps running", async () => {
    const { control, port } = await boot()
    const client = await connect(control)
    client.send("not json")
    client.send('{"id":7,"cmd":"scale","workers":0}')
    client.send('{"id":8,"cmd":"launch-missiles"}')
    client.send('{"id":9,"cmd":"signal","signal":"NOPE"}')
    client.send("[]")
    client.send('{"id":10,"cmd":"status"}')
    await waitFor("six replies", () => (client.lines.length >= 6 ? true : undefined))
    client.socket.end()
    expect(client.lines.slice(0, 5).map((l) => [l.id, l.ok])).toEqual([
      [null, false],
      [7, false],
      [8, false],
      [9, false],
      [null, false]
    ])
    expect(client.lines[1]!.error).toBe("workers: Expected a number between 1 and 1024, actual 0")
    expect(client.lines[5]).toMatchObject({ id: 10, ok: true })
    expect(await get(port)).toMatch(/^hello from generation 1/)
  })

  it("restart waits for the outcome: ready (0), or failed (10) with the old generation still serving", async () => {
    const dir = tempDir()
    const marker = path.join(dir, "broken")
    // The worker refuses to start while the marker exists.
    // --interval=1: a worker that dies at once must be caught by the alive check.
    const { control, port } = await boot(["--interval=1", "--max-start-attempts=2"], { BROKEN_MARKER: marker })
    await waitFor("generation 1", () => statusJson(control)?.state === "serving" || undefined)
    const ok = await runToExit(["--restart", `--control-socket=${control}`, "--timeout=20"])
    expect(ok).toMatchObject({ code: 0, stderr: "" })
    // Ready: the old worker was told to go; until it has exited it may still take a connection.
    await waitFor("generation 1 gone", () =>
      statusJson(control)?.workers.every((w) => w.generation === 2) === true ? true : undefined
    )
    expect(await get(port)).toMatch(/^hello from generation 2,/)

    fs.writeFileSync(marker, "")
    const failed = await runToExit(["--restart", `--control-socket=${control}`, "--timeout=20"])
    expect(failed.code).toBe(10)
    expect(failed.stderr).toBe("restart failed: exited with code 3 before it was ready")
    expect(await get(port)).toMatch(/^hello from generation 2,/)
  })

  it("scale changes the number of workers; subscribe streams lifecycle events", async () => {
    const { control } = await boot()
    const subscriber = await connect(control)
    subscriber.send('{"id":"s","cmd":"subscribe"}')
    const client = await connect(control)
    client.send('{"id":1,"cmd":"scale","workers":3}')
    await waitFor("two more ready workers", () => {
      const ready = subscriber.lines.filter((l) => (l.event as { _tag?: string } | undefined)?._tag === "WorkerReady")
      return ready.length >= 2 ? true : undefined
    })
    expect(statusJson(control)?.workers.filter((w) => w.state === "serving").length).toBe(3)
    expect(subscriber.lines[0]).toEqual({ v: 1, id: "s", ok: true, result: { subscribed: true } })
    expect(client.lines[0]).toEqual({ v: 1, id: 1, ok: true, result: { workers: 3 } })
    subscriber.socket.end()
    client.socket.end()
  })
})

describe("--control-socket, when things go wrong", () => {
  it("a second start_server refuses a control socket in use, before starting any worker; the first keeps it", async () => {
    const { control } = await boot()
    const second = await runToExit(["--port=127.0.0.1:0", `--control-socket=${control}`, "--", "sleep", "30"])
    expect(second.code).toBe(98)
    expect(second.stderr.split("\n")).toEqual([
      expect.stringMatching(/^start_server \(pid:\d+\) starting now\.\.\.$/),
      `control socket ${control} is in use by another process`
    ])
    expect(statusJson(control)?.state).toBe("serving")
  })

  it("a subscriber that stays connected does not keep a stopped start_server alive", async () => {
    const { control, server } = await boot()
    const subscriber = await connect(control)
    subscriber.send('{"id":"s","cmd":"subscribe"}')
    await waitFor("the subscription", () => (subscriber.lines.length > 0 ? true : undefined))
    server.kill("SIGTERM")
    const exited = await Promise.race([server.exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 5000))])
    expect(exited).toEqual({ code: 0, signal: null })
    expect(subscriber.lines.map((l) => (l.event as { _tag?: string } | undefined)?._tag)).toContain("ShutdownStarted")
    subscriber.socket.destroy()
  })

  it("a subscriber and a `logs -f` follower get the last event and the last line before their connections end", async () => {
    const { control, server } = await boot(["--workers=3"])
    const workers = await waitFor("three serving workers", () => {
      const r = statusJson(control)
      return r?.workers.filter((w) => w.state === "serving").length === 3 ? r.workers.map((w) => w.pid) : undefined
    })
    const subscriber = await connect(control)
    subscriber.send('{"id":"s","cmd":"subscribe"}')
    const follower = await connect(control)
    follower.send('{"id":"f","cmd":"logs","follow":true,"lines":0}')
    await waitFor("both answered", () => (subscriber.lines.length > 0 && follower.lines.length > 0) || undefined)
    server.kill("SIGTERM")
    expect(await server.exited).toEqual({ code: 0, signal: null })
    await Promise.all([subscriber.closed, follower.closed])
    // The last worker's exit is published in the very step that exits: it comes last.
    const events = subscriber.lines.slice(1).map((l) => l.event as { _tag: string; pid?: number })
    expect(events[0]?._tag).toBe("ShutdownStarted")
    expect(events.at(-1)?._tag).toBe("WorkerExited")
    const exited = events.filter((e) => e._tag === "WorkerExited").map((e) => e.pid)
    expect(exited.sort()).toEqual([...workers].sort())
    const lines = follower.lines.slice(1).map((l) => (l.event as { line: string }).line)
    expect(lines[0]).toMatch(/^received TERM, sending TERM to all workers:/)
    expect(lines.at(-1)).toBe("exiting")
  })

  it("--restart through a socket nobody listens on fails at once, saying so", async () => {
    const dir = tempDir()
    const missing = await runToExit(["--restart", `--control-socket=${dir}/none.sock`, "--timeout=30"])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toBe(`start_server is not running (no control socket at ${dir}/none.sock)`)
  })

  it("--restart returns as soon as the supervisor dies during the restart", async () => {
    const marker = path.join(tempDir(), "broken")
    const { control, server } = await boot(["--ready=notify-fd"], { BROKEN_MARKER: marker })
    await waitFor("generation 1", () => statusJson(control)?.state === "serving" || undefined)
    fs.writeFileSync(marker, "") // every new worker fails: the restart retries, with backoff
    const started = Date.now()
    const restart = runToExit(["--restart", `--control-socket=${control}`, "--timeout=30"])
    await waitFor("the restart to begin", () => statusJson(control)?.state === "restarting" || undefined)
    server.kill("SIGKILL")
    const result = await restart
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(`${control} closed the connection without answering`)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it("status gives up on a socket that never answers (exit 124)", async () => {
    const dir = tempDir()
    const mute = net.createServer(() => {}) // accepts, never answers
    await new Promise<void>((resolve) => mute.listen(path.join(dir, "mute.sock"), resolve))
    const result = await runToExit(["status", `--control-socket=${dir}/mute.sock`, "--timeout=500ms"])
    mute.close()
    expect(result.code).toBe(124)
    expect(result.stderr).toBe(`no answer from ${dir}/mute.sock within 0.5 secs`)
  })
})
