#!/usr/bin/env node
// `pnpm soak`: an HTTP worker under concurrent load (loopback only, bounded in count and
// time) through M restarts. Reports requests sent, failed and reset, and latency
// percentiles, for a Node worker and for Perl's Starlet. The goal is 0 failed.
//
// Also the supervisor's open fds and RSS before and after, and zombies left: a leak shows as
// growth over many restarts. Exits 1 on a failed or reset request, a zombie or a leaked fd.
//
//   pnpm soak                      # 50 restarts each, 8 clients
//   pnpm soak -- --long            # 1,000 restarts of the Node worker, at most 15 minutes
//   pnpm soak -- --tiny            # 2 restarts each (what CI runs)
//   pnpm soak -- --restarts=10 --kind=node
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const startServer = path.join(root, "node_modules/.bin/start_server")
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=")
    return [k, v ?? "true"]
  })
)
const tiny = args.tiny === "true"
const long = args.long === "true"
const restarts = Number(args.restarts ?? (tiny ? 2 : long ? 1000 : 50))
const clients = Number(args.concurrency ?? 8)
// Starlet restarts at Perl's pace (a second each): the long run is the Node worker's.
const kinds = (args.kind ?? (long ? "node" : "node,starlet")).split(",")
const deadlineMs = Number(args["max-seconds"] ?? (tiny ? 60 : long ? 900 : 600)) * 1000

/** The supervisor's open fds, its RSS in MiB, and its children that exited unreaped. */
const footprint = (pid) => ({
  fds: fs.readdirSync(`/proc/${pid}/fd`).length,
  rss: Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024
})
const zombiesOf = (pid) =>
  fs.readdirSync("/proc").filter((name) => {
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8")
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return state === "Z" && Number(ppid) === pid
    } catch {
      return false
    }
  }).length

const hasStarlet = spawnSync("sh", ["-c", "command -v plackup"]).status === 0

const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const statusLines = (file) => {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean)
  } catch {
    return []
  }
}

const request = (port, agent) =>
  new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const done = (outcome) => resolve({ outcome, ms: Number(process.hrtime.bigint() - started) / 1e6 })
    const req = http.get({ host: "127.0.0.1", port, agent, timeout: 10_000 }, (res) => {
      res.resume()
      res.on("end", () => done(res.statusCode === 200 ? "ok" : "failed"))
      res.on("error", (e) => done(e.code === "ECONNRESET" ? "reset" : "failed"))
    })
    req.on("error", (e) => done(e.code === "ECONNRESET" ? "reset" : "failed"))
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })))
  })

const percentile = (sorted, p) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

const workerFor = (kind, dir) => {
  if (kind === "node")
    return { args: ["--ready=notify-fd", "--", process.execPath, path.join(root, "examples/http-worker.mjs")] }
  const app = path.join(dir, "app.psgi")
  fs.writeFileSync(app, 'sub { [200, ["Content-Type" => "text/plain"], ["hello from $$\\n"]] }\n')
  return { args: ["--", "plackup", "-s", "Starlet", "--max-workers=4", app] }
}

const soak = async (kind) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "soak-"))
  const port = await freePort()
  const status = path.join(dir, "status")
  const { args: workerArgs } = workerFor(kind, dir)
  const supervisor = spawn(startServer, [`--port=127.0.0.1:${port}`, `--status-file=${status}`, ...workerArgs], {
    stdio: ["ignore", "ignore", "ignore"]
  })
  const deadline = Date.now() + deadlineMs
  try {
    while (statusLines(status).length === 0) {
      if (Date.now() > deadline) throw new Error("the first generation did not start")
      await sleep(50)
    }
    const before = footprint(supervisor.pid)
    let stop = false
    const results = { ok: 0, failed: 0, reset: 0 }
    const latencies = []
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: clients })
    const load = Array.from({ length: clients }, async (_, i) => {
      while (!stop && Date.now() < deadline) {
        const { outcome, ms } = await request(port, i % 2 === 0 ? false : keepAlive)
        results[outcome] += 1
        latencies.push(ms)
      }
    })
    const started = Date.now()
    for (let n = 0; n < restarts && Date.now() < deadline; n++) {
      const newest = Math.max(...statusLines(status).map((l) => Number(l.split(":")[0])))
      supervisor.kill("SIGHUP")
      while (!statusLines(status).every((l) => Number(l.split(":")[0]) > newest) || statusLines(status).length === 0) {
        if (Date.now() > deadline) throw new Error(`restart ${n + 1} did not finish in time`)
        await sleep(20)
      }
    }
    const restartSeconds = (Date.now() - started) / 1000
    stop = true
    await Promise.all(load)
    keepAlive.destroy()
    // Let the last old worker be reaped and the client connections close before measuring.
    await sleep(tiny ? 500 : 3000)
    const after = footprint(supervisor.pid)
    const zombies = zombiesOf(supervisor.pid)
    latencies.sort((a, b) => a - b)
    return {
      before,
      after,
      zombies,
      kind,
      restarts,
      seconds: restartSeconds,
      sent: results.ok + results.failed + results.reset,
      failed: results.failed,
      reset: results.reset,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? 0
    }
  } finally {
    supervisor.kill("SIGTERM")
    await new Promise((resolve) => supervisor.once("exit", resolve))
  }
}

const rows = []
for (const kind of kinds) {
  if (kind === "starlet" && !hasStarlet) {
    console.log("starlet: skipped (apt-get install -y starlet)")
    continue
  }
  rows.push(await soak(kind))
}
const fmt = (ms) => `${ms.toFixed(1)} ms`
console.log(
  `| worker | restarts | seconds | requests | failed | reset | p50 | p99 | max | supervisor fds before → after | RSS before → after | zombies |`
)
console.log(`| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`)
for (const r of rows) {
  console.log(
    `| ${r.kind} | ${r.restarts} | ${r.seconds.toFixed(1)} | ${r.sent} | ${r.failed} | ${r.reset} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${r.before.fds} → ${r.after.fds} | ${r.before.rss.toFixed(1)} → ${r.after.rss.toFixed(1)} MiB | ${r.zombies} |`
  )
}
const clean = (r) => r.failed === 0 && r.reset === 0 && r.zombies === 0 && r.after.fds <= r.before.fds
process.exit(rows.every(clean) ? 0 : 1)
