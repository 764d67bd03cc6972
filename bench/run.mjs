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

/**
 * A worker script: serves HTTP on the inherited fds (or binds BIND_PORT itself); writes
 * READY=1 READY_DELAY_MS after it started, if asked, first appending the time to READY_LOG.
 */
const workerScript = path.join(os.tmpdir(), `bench-worker-${process.pid}.mjs`)
fs.writeFileSync(
  workerScript,
  `import http from "node:http"; import fs from "node:fs"
const answer = (q, r) => r.end("ok")
if (process.env.BIND_PORT) http.createServer(answer).listen(Number(process.env.BIND_PORT), "127.0.0.1", 4096)
const fds = (process.env.SERVER_STARTER_PORT ?? "").split(";").filter(Boolean).map((e) => Number(e.slice(e.lastIndexOf("=") + 1)))
const servers = fds.map((fd) => http.createServer(answer).listen({ fd }, 4096))
const ready = () => {
  if (process.env.READY_LOG) fs.appendFileSync(process.env.READY_LOG, (performance.timeOrigin + performance.now()) + "\\n")
  fs.writeSync(Number(process.env.STARTER_NOTIFY_FD), "READY=1\\n")
}
if (process.env.STARTER_NOTIFY_FD) setTimeout(ready, Number(process.env.READY_DELAY_MS ?? 0))
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

const now = () => performance.timeOrigin + performance.now()

/**
 * HUP → the old generation's worker has exited, in ms; and, for a worker that says when it is
 * ready, HUP → that moment (the readiness time no supervisor can beat).
 */
const hupToOldExit = async (bin, args, env = {}) => {
  const readyLog = path.join(os.tmpdir(), `bench-ready-${process.pid}-${Math.random()}`)
  const server = await launch(bin, args, { ...env, READY_LOG: readyLog })
  const exits = []
  const readies = []
  for (let i = 0; i < samples; i++) {
    const old = statusLines(server.status).map((l) => Number(l.split(":")[1]))
    const t0 = now()
    server.child.kill("SIGHUP")
    await waitUntil("the old worker to exit", () => old.every((pid) => !isRunning(pid)))
    exits.push(now() - t0)
    const readyAt = Number((fs.existsSync(readyLog) ? fs.readFileSync(readyLog, "utf8") : "").trim().split("\n").at(-1))
    if (readyAt > t0) readies.push(readyAt - t0)
    await waitUntil("one generation", () => statusLines(server.status).length === 1)
  }
  await stop(server)
  fs.rmSync(readyLog, { force: true })
  return { exit: median(exits), ready: readies.length === samples ? median(readies) : undefined }
}

/** The load generator: wrk when installed (C, multi-threaded), else autocannon (npm). */
const wrk = spawnSync("sh", ["-c", "command -v wrk"]).status === 0
const loadTool = wrk ? "wrk" : "autocannon"
const loadSeconds = tiny ? 1 : 10

/** Requests per second against 127.0.0.1:port, 32 connections, keep-alive or one per request. */
const requestsPerSecond = async (port, keepAlive) => {
  const url = `http://127.0.0.1:${port}/`
  if (wrk) {
    const header = keepAlive ? [] : ["-H", "Connection: close"]
    const out = spawnSync("wrk", ["-t1", "-c32", `-d${loadSeconds}s`, ...header, url], { encoding: "utf8" }).stdout
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN)
  }
  const { default: autocannon } = await import("autocannon")
  const result = await autocannon({
    url,
    connections: 32,
    duration: loadSeconds,
    headers: keepAlive ? {} : { connection: "close" }
  })
  return result.requests.average
}

const listening = (port) =>
  new Promise((resolve) => {
    const probe = net.connect(port, "127.0.0.1")
    probe.once("connect", () => {
      probe.destroy()
      resolve(true)
    })
    probe.once("error", () => resolve(false))
  })

/** The same worker binding the port itself (no supervisor), and on each supervisor's inherited socket. */
const throughput = async (keepAlive) => {
  const samplesOf = { bound: [], ours: [], perl: [] }
  for (let i = 0; i < (tiny ? 1 : 3); i++) {
    const port = await freePort()
    const alone = spawn(process.execPath, [workerScript], {
      stdio: "ignore",
      env: { ...process.env, BIND_PORT: String(port) }
    })
    started.push(alone)
    while (!(await listening(port))) await sleep(5)
    samplesOf.bound.push(await requestsPerSecond(port, keepAlive))
    alone.kill("SIGTERM")
    for (const [name, bin] of [
      ["ours", ours],
      ["perl", perl]
    ]) {
      if (bin === undefined) continue
      const server = await launch(bin, ["--", process.execPath, workerScript])
      samplesOf[name].push(await requestsPerSecond(server.port, keepAlive))
      await stop(server)
    }
  }
  return { bound: median(samplesOf.bound), ours: median(samplesOf.ours), perl: perl && median(samplesOf.perl) }
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

/**
 * RSS and CPU of an idle supervisor: RSS just after start and after two idle windows; CPU in
 * each window (V8 collects garbage once, some seconds after startup, in the first).
 */
const settleMs = tiny ? 300 : 1500
const footprint = async (bin, args) => {
  const server = await launch(bin, [...args, "--", process.execPath, workerScript])
  await sleep(settleMs)
  const pid = server.child.pid
  const rss = procStatus(pid)
  const cpu = []
  for (let window = 0; window < 2; window++) {
    const before = cpuTicks(pid)
    await sleep(idleSeconds * 1000)
    cpu.push(((cpuTicks(pid) - before) / hz) * 1000)
  }
  const settledRss = procStatus(pid)
  await stop(server)
  return { rss, settledRss, firstCpuMs: cpu[0], nextCpuMs: cpu[1] }
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
const throughputRows = []
const row = (what, oursValue, perlValue, unit) => {
  const ratio = perlValue === undefined || perlValue === 0 ? "" : (oursValue / perlValue).toFixed(2)
  rows.push(
    `| ${what} | ${oursValue.toFixed(1)} ${unit} | ${perlValue === undefined ? "—" : `${perlValue.toFixed(1)} ${unit}`} | ${ratio} |`
  )
  console.log(rows.at(-1))
}

try {
  const plain = ["--", process.execPath, workerScript]
  const perlDefault = perl && (await hupToOldExit(perl, plain))
  row("HUP → old worker exited, --interval=1", (await hupToOldExit(ours, plain)).exit, perlDefault?.exit, "ms")
  // A worker ready 100 ms after it started: ours retires the old one when it says so, Perl after --interval.
  const ready100 = await hupToOldExit(ours, ["--ready=notify-fd", ...plain], { READY_DELAY_MS: "100" })
  row(
    "HUP → new worker ready (worker ready 100 ms after start; its own time)",
    ready100.ready ?? Number.NaN,
    undefined,
    "ms"
  )
  row(
    "HUP → old worker exited, worker ready after 100 ms (ours: --ready=notify-fd)",
    ready100.exit,
    perlDefault?.exit,
    "ms"
  )
  row("  of which after the worker was ready", ready100.exit - ready100.ready, undefined, "ms")
  row("--restart wall time", await restartWall(ours), perl && (await restartWall(perl)), "ms")
  const oursFoot = await footprint(ours, [])
  const perlFoot = perl && (await footprint(perl, []))
  const sixteen = await footprint(ours, ["--workers=16"])
  row(`supervisor RSS, 1 worker, ${settleMs / 1000} s after start`, oursFoot.rss, perlFoot?.rss, "MB")
  row(`supervisor RSS, 1 worker, after ${2 * idleSeconds} s idle`, oursFoot.settledRss, perlFoot?.settledRss, "MB")
  row(`supervisor CPU, first ${idleSeconds} s idle`, oursFoot.firstCpuMs, perlFoot?.firstCpuMs, "ms")
  row(`supervisor CPU, next ${idleSeconds} s idle`, oursFoot.nextCpuMs, perlFoot?.nextCpuMs, "ms")
  row(`supervisor RSS, 16 workers, ${settleMs / 1000} s after start`, sixteen.rss, undefined, "MB")
  row(`supervisor RSS, 16 workers, after ${2 * idleSeconds} s idle`, sixteen.settledRss, undefined, "MB")
  row(`supervisor CPU, first ${idleSeconds} s idle, 16 workers`, sixteen.firstCpuMs, undefined, "ms")
  row(`supervisor CPU, next ${idleSeconds} s idle, 16 workers`, sixteen.nextCpuMs, undefined, "ms")
  row("`start_server --version` cold start", coldStart(ours), perl && coldStart(perl), "ms")
  for (const n of tiny ? [1, 4] : [1, 4, 16])
    row(`rolling restart, --workers=${n} --ready=notify-fd`, await rolling(n), undefined, "ms")
  for (const keepAlive of [true, false]) {
    const r = await throughput(keepAlive)
    const cell = (value) => (value === undefined ? "—" : `${value.toFixed(0)} (${(value / r.bound).toFixed(2)})`)
    throughputRows.push(
      `| ${keepAlive ? "keep-alive" : "a new connection per request"} | ${r.bound.toFixed(0)} | ${cell(r.ours)} | ${cell(r.perl)} |`
    )
    console.log(throughputRows.at(-1))
  }
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

Throughput: requests per second to one worker process, binding the port itself (no
supervisor at all) or serving on a supervisor's inherited socket; in brackets the ratio to the
first. A supervisor that never accepts is not in the data path, so it should be ≈ 1.00. Load:
\`${loadTool}\`, 32 connections, ${loadSeconds} s per sample, medians of ${tiny ? 1 : 3}, on the same machine (the
generator and the worker share its ${os.cpus().length} cores).

| connections | worker binding the port itself | under our start_server | under Perl's start_server |
| --- | --- | --- | --- |
${throughputRows.join("\n")}
`
// The tiny run (what CI does) only shows that the benchmark works; it keeps the real figures.
if (tiny) console.log("\n(--tiny: bench/RESULTS.md left as it is)")
else {
  fs.writeFileSync(path.join(root, "bench/RESULTS.md"), report)
  // Aligned as `pnpm lint` wants the committed file.
  spawnSync(path.join(root, "node_modules/.bin/biome"), ["format", "--write", "bench/RESULTS.md"], { cwd: root })
  console.log("\nwrote bench/RESULTS.md")
}
