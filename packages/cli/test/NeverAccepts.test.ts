/**
 * The supervisor holds the listening socket but must never accept on it: a connection it
 * accepted would never reach a worker. Every connection here must be answered by the
 * worker, including the ones made while no worker was running.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  fixtures,
  freePort,
  nodeExecutable,
  readIfExists,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const worker = path.join(fixtures, "counting-worker.mjs")
const track = trackSupervisors()

/** Connects and collects whatever the peer sends until it closes. */
const exchange = (port: number): { connected: Promise<void>; reply: Promise<string>; socket: net.Socket } => {
  const socket = net.connect(port, "127.0.0.1")
  let data = ""
  socket.on("data", (chunk: Buffer) => {
    data += chunk.toString()
  })
  const connected = new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve)
    socket.once("error", reject)
  })
  const reply = new Promise<string>((resolve, reject) => {
    socket.once("close", () => resolve(data))
    socket.once("error", reject)
  })
  return { connected, reply, socket }
}

/** Sockets of `pid` that are connections (ESTAB), not listeners, per /proc/net/tcp. */
const establishedSockets = (pid: number): number => {
  const inodes = new Set(
    fs
      .readdirSync(`/proc/${pid}/fd`)
      .map((fd) => readLink(`/proc/${pid}/fd/${fd}`))
      .flatMap((target) => {
        const m = /^socket:\[(\d+)\]$/.exec(target ?? "")
        return m === null ? [] : [m[1]!]
      })
  )
  const table = fs.readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)
  // column 4 is the state (01 = ESTABLISHED), column 10 the inode
  return table.filter((row) => {
    const cols = row.trim().split(/\s+/)
    return cols[3] === "01" && inodes.has(cols[9] ?? "")
  }).length
}

const readLink = (p: string): string | undefined => {
  try {
    return fs.readlinkSync(p)
  } catch {
    return undefined
  }
}

describe("the supervisor never accepts", () => {
  it("connections made while no worker runs wait in the backlog and are served by the first worker", async () => {
    const dir = tempDir()
    const port = await freePort()
    const marker = path.join(dir, "go")
    const gate = `while [ ! -e ${marker} ]; do sleep 0.05; done; exec ${nodeExecutable} ${worker}`
    const server = startServer([`--port=127.0.0.1:${port}`, "--interval=0", "--", "sh", "-c", gate])
    track(server)
    await server.waitForLine(/^starting new worker/)

    const early = Array.from({ length: 5 }, () => exchange(port))
    await Promise.all(early.map((c) => c.connected))
    // Nobody answers while no worker runs: the supervisor holds the connections in the
    // kernel's queue without accepting them.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(establishedSockets(server.pid)).toBe(0)
    const unanswered = await Promise.race([
      Promise.any(early.map((c) => c.reply)).then(() => "answered"),
      new Promise((resolve) => setTimeout(() => resolve("waiting"), 50))
    ])
    expect(unanswered).toBe("waiting")

    fs.writeFileSync(marker, "")
    const replies = await Promise.all(early.map((c) => c.reply))
    const pids = new Set(replies.map((r) => r.split(" ")[0]))
    expect(pids.size).toBe(1)
    expect(pids.has(String(server.pid))).toBe(false)
    expect(replies.map((r) => Number(r.split(" ")[1])).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5])
  })

  it("under load every connection is accepted by the worker, none by the supervisor", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const server = startServer([`--port=127.0.0.1:${port}`, `--status-file=${status}`, "--", nodeExecutable, worker])
    track(server)
    const workerPid = await waitFor("the worker to be up", () => readIfExists(status)?.split(":")[1]?.trim())

    const total = 400
    const concurrency = 16
    const replies: Array<string> = []
    let next = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          next += 1
          replies.push(await exchange(port).reply)
        }
      })
    )
    const byPid = new Map<string, number>()
    for (const r of replies) byPid.set(r.split(" ")[0]!, (byPid.get(r.split(" ")[0]!) ?? 0) + 1)
    // Every connection was answered, all by the worker, and the worker's own count agrees.
    expect(replies.length).toBe(total)
    expect([...byPid]).toEqual([[workerPid, total]])
    expect(Math.max(...replies.map((r) => Number(r.split(" ")[1])))).toBe(total)
    expect(establishedSockets(server.pid)).toBe(0)
  })
})
