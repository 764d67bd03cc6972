#!/usr/bin/env node
// `pnpm bench`: measurements of ours, side by side with Perl's start_server when it is
// installed. Loopback only; every loop is bounded. Writes bench/RESULTS.md.
//   pnpm bench              # the full run (a few minutes)
//   pnpm bench -- --tiny    # one sample of each, short idle window, RESULTS.md untouched
import { execSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const ours = path.join(root, "node_modules/.bin/start_server")
const perl = fs.existsSync("/usr/bin/start_server") ? "/usr/bin/start_server" : undefined
const tiny = process.argv.includes("--tiny")
const samples = tiny ? 1 : 5
const idleSeconds = tiny ? 1 : 30
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const started = []

const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const isRunning = (pid) => {
  try {
    process.kill(pid, 0)
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

const statusLines = (file) => {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean)
  } catch {
    return []
  }
}

const waitUntil = async (what, check, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await sleep(1)
  }
}

/** A worker script: serves HTTP on the inherited fds; READY=1 after READY_DELAY_MS if asked. */
const workerScript = path.join(os.tmpdir(), `bench-worker-${process.pid}.mjs`)
fs.writeFileSync(
  workerScript,
  `import http from "node:http"; import fs from "node:fs"
const fds = (process.env.SERVER_STARTER_PORT ?? "").split(";").filter(Boolean).map((e) => Number(e.slice(e.lastIndexOf("=") + 1)))
const servers = fds.map((fd) => http.createServer((q, r) => r.end("ok")).listen({ fd }, 4096))
if (process.env.STARTER_NOTIFY_FD) setTimeout(() => fs.writeSync(Number(process.env.STARTER_NOTIFY_FD), "READY=1\\n"), Number(process.env.READY_DELAY_MS ?? 0))
process.on("SIGTERM", () => process.exit(0))
`
)

const launch = async (bin, args, env = {}) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"))
  const port = await freePort()
  const status = path.join(dir, "status")
  const pidFile = path.join(dir, "pid")
  const child = spawn(bin, [`--port=127.0.0.1:${port}`, `--status-file=${status}`, `--pid-file=${pidFile}`, ...args], {
    stdio: "ignore",
    env: { ...process.env, ...env }
  })
  started.push(child)
  await waitUntil("the first generation", () => statusLines(status).length > 0)
  return { child, status, pidFile, port, dir }
}

const stop = async ({ child }) => {
  child.kill("SIGTERM")
  await new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve()))
}

/** HUP → the old generation's worker has exited, in ms. */
const hupToOldExit = async (bin, args, env) => {
  const server = await launch(bin, args, env)
  const times = []
  for (let i = 0; i < samples; i++) {
    const old = statusLines(server.status).map((l) => Number(l.split(":")[1]))
    const t0 = performance.now()
    server.child.kill("SIGHUP")
    await waitUntil("the old worker to exit", () => old.every((pid) => !isRunning(pid)))
    times.push(performance.now() - t0)
    await waitUntil("one generation", () => statusLines(server.status).length === 1)
  }
  await stop(server)
  return median(times)
}

const restartWall = async (bin) => {
  const server = await launch(bin, ["--", process.execPath, workerScript])
  const times = []
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now()
    const r = spawnSync(bin, ["--restart", `--pid-file=${server.pidFile}`, `--status-file=${server.status}`])
    if (r.status !== 0) throw new Error(`--restart exited ${r.status}`)
    times.push(performance.now() - t0)
  }
  await stop(server)
  return median(times)
}

const procStatus = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+)/.exec(s)[1]) / 1024
}
const cpuTicks = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ")
  return Number(f[11]) + Number(f[12])
}
const hz = Number(execSync("getconf CLK_TCK").toString().trim())

const footprint = async (bin, args) => {
  const server = await launch(bin, [...args, "--", process.execPath, workerScript])
  await sleep(tiny ? 300 : 1500)
  const rss = procStatus(server.child.pid)
  const before = cpuTicks(server.child.pid)
  await sleep(idleSeconds * 1000)
  const cpuMs = ((cpuTicks(server.child.pid) - before) / hz) * 1000
  await stop(server)
  return { rss, cpuMs }
}

const coldStart = (bin) => {
  const times = []
  for (let i = 0; i < (tiny ? 3 : 20); i++) {
    const t0 = performance.now()
    spawnSync(bin, ["--version"])
    times.push(performance.now() - t0)
  }
  return median(times)
}

const rolling = async (n) => {
  const server = await launch(ours, [
    `--workers=${n}`,
    "--max-surge=1",
    "--ready=notify-fd",
    "--",
    process.execPath,
    workerScript
  ])
  await waitUntil(`${n} workers`, () => statusLines(server.status).length === n)
  const newest = Math.max(...statusLines(server.status).map((l) => Number(l.split(":")[0])))
  const t0 = performance.now()
  server.child.kill("SIGHUP")
  await waitUntil("only new generations", () => {
    const lines = statusLines(server.status)
    return lines.length === n && lines.every((l) => Number(l.split(":")[0]) > newest)
  })
  const ms = performance.now() - t0
  await stop(server)
  return ms
}

const rows = []
const row = (what, oursValue, perlValue, unit) => {
  const ratio = perlValue === undefined || perlValue === 0 ? "" : (oursValue / perlValue).toFixed(2)
  rows.push(
    `| ${what} | ${oursValue.toFixed(1)} ${unit} | ${perlValue === undefined ? "—" : `${perlValue.toFixed(1)} ${unit}`} | ${ratio} |`
  )
  console.log(rows.at(-1))
}

try {
  const plain = ["--", process.execPath, workerScript]
  row(
    "HUP → old worker exited, --interval=1",
    await hupToOldExit(ours, plain),
    perl && (await hupToOldExit(perl, plain)),
    "ms"
  )
  row(
    "HUP → old worker exited, worker ready after 100 ms (ours: --ready=notify-fd)",
    await hupToOldExit(ours, ["--ready=notify-fd", ...plain], { READY_DELAY_MS: "100" }),
    perl && (await hupToOldExit(perl, plain)),
    "ms"
  )
  row("--restart wall time", await restartWall(ours), perl && (await restartWall(perl)), "ms")
  const oursFoot = await footprint(ours, [])
  const perlFoot = perl && (await footprint(perl, []))
  row("supervisor RSS, 1 worker", oursFoot.rss, perlFoot?.rss, "MB")
  row(`supervisor CPU over ${idleSeconds} s idle`, oursFoot.cpuMs, perlFoot?.cpuMs, "ms")
  const sixteen = await footprint(ours, ["--workers=16"])
  row("supervisor RSS, 16 workers", sixteen.rss, undefined, "MB")
  row(`supervisor CPU over ${idleSeconds} s idle, 16 workers`, sixteen.cpuMs, undefined, "ms")
  row("`start_server --version` cold start", coldStart(ours), perl && coldStart(perl), "ms")
  for (const n of tiny ? [1, 4] : [1, 4, 16])
    row(`rolling restart, --workers=${n} --ready=notify-fd`, await rolling(n), undefined, "ms")
} finally {
  for (const child of started) if (child.exitCode === null) child.kill("SIGKILL")
  fs.rmSync(workerScript, { force: true })
}

const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown"
const perlVersion = perl ? spawnSync(perl, ["--version"]).stdout.toString().trim() : "not installed"
const report = `# Benchmarks

Written by \`pnpm bench${tiny ? " -- --tiny" : ""}\` on ${new Date().toISOString().slice(0, 10)}.
Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()},
Node ${process.version}, Perl start_server ${perlVersion}. Medians of ${samples} samples; the
worker is a minimal Node HTTP server (the script is inlined in bench/run.mjs).

| measurement | ours | Perl's start_server | ratio |
| --- | --- | --- | --- |
${rows.join("\n")}

Not measured yet: throughput through an inherited socket versus the worker binding the port
itself (needs a real load generator such as autocannon or wrk).
`
// The tiny run (what CI does) only shows that the benchmark works; it keeps the real figures.
if (tiny) console.log("\n(--tiny: bench/RESULTS.md left as it is)")
else {
  fs.writeFileSync(path.join(root, "bench/RESULTS.md"), report)
  console.log("\nwrote bench/RESULTS.md")
}
