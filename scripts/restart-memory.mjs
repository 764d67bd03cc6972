#!/usr/bin/env node
// The supervisor's memory over many restarts (issue 23, defect 14): start_server under Node
// or Bun with a trivial worker (`sleep`), HUP after HUP, each once the previous restart is
// over (the status file names only the new generation), and its RSS (VmRSS, and RssAnon:
// the heap) read from /proc at checkpoints. Loopback only; nothing left running.
//
//   node scripts/restart-memory.mjs --runtime=bun --restarts=2000
//   node scripts/restart-memory.mjs --runtime=node --restarts=500
//   node scripts/restart-memory.mjs --runtime=bun --flags=--smol        (flags for the runtime)
//
// Prints one line per checkpoint: restarts, VmRSS and RssAnon in MiB, open fds; then the same
// after --idle seconds (default 20) without restarts: what a collection gave back.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=")
    return [k, v ?? "true"]
  })
)
const runtime = args.runtime ?? "bun"
const restarts = Number(args.restarts ?? 2000)
const extra = (args.extra ?? "").split(" ").filter(Boolean)
const flags = (args.flags ?? "").split(" ").filter(Boolean)
const idle = Number(args.idle ?? 20)
const exe = runtime === "bun" ? path.join(root, "node_modules/bun/bin/bun.exe") : process.execPath
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "restart-memory-"))
const status = path.join(dir, "status")

const supervisor = spawn(
  exe,
  [
    ...flags,
    path.join(root, "packages/cli/bin/start_server.js"),
    `--status-file=${status}`,
    "--interval=0",
    ...extra,
    "--",
    "sleep",
    "1000"
  ],
  { stdio: "ignore" }
)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const generations = () => {
  try {
    return new Set(
      fs
        .readFileSync(status, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => Number(l.split(":")[0]))
    )
  } catch {
    return new Set()
  }
}
const memory = () => {
  const text = fs.readFileSync(`/proc/${supervisor.pid}/status`, "utf8")
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0)
  return { rss: kb("VmRSS") / 1024, anon: kb("RssAnon") / 1024 }
}
const fds = () => fs.readdirSync(`/proc/${supervisor.pid}/fd`).length
const checkpoints = new Set([0, 10, 50, 100, 250, 500, 1000, 1500, 2000, 3000, 5000, restarts])

try {
  const started = Date.now()
  while (generations().size === 0) await sleep(5)
  console.log(`start_server on ${runtime} ${[...flags, ...extra].join(" ")}: restarts, VmRSS MiB, RssAnon MiB, fds`)
  for (let i = 0; i <= restarts; i++) {
    if (checkpoints.has(i)) {
      const m = memory()
      console.log(`${i}\t${m.rss.toFixed(1)}\t${m.anon.toFixed(1)}\t${fds()}`)
    }
    if (i === restarts) break
    const next = i + 2
    process.kill(supervisor.pid, "SIGHUP")
    for (let g = generations(); !(g.size === 1 && g.has(next)); g = generations()) await sleep(2)
  }
  console.log(`${restarts} restarts in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  await sleep(idle * 1000)
  const m = memory()
  console.log(`after ${idle} s idle\t${m.rss.toFixed(1)}\t${m.anon.toFixed(1)}\t${fds()}`)
} finally {
  supervisor.kill("SIGTERM")
  await new Promise((r) => supervisor.once("exit", r))
  fs.rmSync(dir, { recursive: true, force: true })
}
