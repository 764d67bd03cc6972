#!/usr/bin/env node
// `pnpm bench`: measurements of ours (on Node and on Bun), side by side with Perl's
// start_server when it is installed. Loopback only; every loop is bounded. Writes bench/RESULTS.md.
//   pnpm bench              # the full run (a few minutes)
//   pnpm bench -- --tiny    # one sample of each, short idle window, RESULTS.md untouched
import { execSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
/** The Node lines besides this one (tools/node-lines), each measured in the table of Node lines. */
const { installedNodeLines } = await import(path.join(root, "tools/node-lines/index.mjs"))
// The commands that run a start_server, as argv prefixes. Under Bun, Bun's own binary and not
// its .bin shell shim: the spawned pid must be the supervisor's, whose memory is measured.
const ours = [path.join(root, "node_modules/.bin/start_server")]
const oursOnBun = [path.join(root, "node_modules/bun/bin/bun.exe"), path.join(root, "packages/cli/bin/start_server.js")]
const perl = fs.existsSync("/usr/bin/start_server") ? ["/usr/bin/start_server"] : undefined
const run = (command, args, options) => spawn(command[0], [...command.slice(1), ...args], options)
const runSync = (command, args, options) => spawnSync(command[0], [...command.slice(1), ...args], options)
const tiny = process.argv.includes("--tiny")
const samples = tiny ? 1 : 5
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
// DRAIN: stop accepting and finish the requests in progress first (a graceful worker).
process.on("SIGTERM", () => {
  if (!process.env.DRAIN) process.exit(0)
  let open = servers.length
  for (const server of servers) server.close(() => --open === 0 && process.exit(0))
})
`
)

const launch = async (command, args, env = {}) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"))
  const port = await freePort()
  const status = path.join(dir, "status")
  const pidFile = path.join(dir, "pid")
  const child = run(
    command,
    [`--port=127.0.0.1:${port}`, `--status-file=${status}`, `--pid-file=${pidFile}`, ...args],
    {
      stdio: "ignore",
      env: { ...process.env, ...env }
    }
  )
  started.push(child)
  await waitUntil("the first generation", () => statusLines(status).length > 0)
  return { child, status, pidFile, port, dir }
}

/**
 * TERM, and the exit. A supervisor still there 15 s later (Perl's start_server once missed a
 * TERM here, and stopped only at a later HUP) is killed with its workers, saying so.
 */
const stop = async ({ child }) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once("exit", () => resolve("exited")))
  child.kill("SIGTERM")
  const late = new Promise((resolve) => setTimeout(() => resolve("late"), 15_000).unref())
  if ((await Promise.race([exited, late])) === "exited") return
  process.stderr.write(`pid ${child.pid} did not stop within 15 s of TERM: killing it and its workers\n`)
  for (const pid of tree(child.pid)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone already
    }
  }
  await exited
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

/** The supervisor's children: its workers. */
const childrenOf = (pid) =>
  fs
    .readdirSync(`/proc/${pid}/task`)
    .flatMap((task) => fs.readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" "))
    .filter(Boolean)
    .map(Number)

/** A process and its descendants, parents first, as /proc shows them now. */
const tree = (pid) => {
  try {
    return [pid, ...childrenOf(pid).flatMap(tree)]
  } catch {
    return [pid]
  }
}

/** One GET answered 200 within `timeoutMs`, on a fresh connection. */
const probeOk = (port, timeoutMs) =>
  new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, agent: false, timeout: timeoutMs }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode === 200))
      res.on("error", () => resolve(false))
    })
    req.on("error", () => resolve(false))
    req.on("timeout", () => req.destroy(new Error("timeout")))
  })

/**
 * The worker SIGKILLed every second while the port is probed every 100 ms (500 ms timeout):
 * the share of probes that failed, in %. A crash must be replaced at once, as Perl does.
 */
const killLoopFailures = async (bin, args) => {
  const server = await launch(bin, args)
  const kills = tiny ? 3 : 15
  const outcomes = []
  const prober = setInterval(() => outcomes.push(probeOk(server.port, 500)), 100)
  try {
    for (let n = 0; n < kills; n++) {
      await sleep(1000)
      const worker = childrenOf(server.child.pid).at(-1)
      if (worker !== undefined) process.kill(worker, "SIGKILL")
    }
  } finally {
    clearInterval(prober)
  }
  const results = await Promise.all(outcomes)
  await stop(server)
  return (100 * results.filter((ok) => !ok).length) / results.length
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
  const samplesOf = { bound: [], ours: [], bun: [], perl: [] }
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
      ["bun", oursOnBun],
      ["perl", perl]
    ]) {
      if (bin === undefined) continue
      const server = await launch(bin, ["--", process.execPath, workerScript])
      samplesOf[name].push(await requestsPerSecond(server.port, keepAlive))
      await stop(server)
    }
  }
  return {
    bound: median(samplesOf.bound),
    ours: median(samplesOf.ours),
    bun: median(samplesOf.bun),
    perl: perl && median(samplesOf.perl)
  }
}

const restartWall = async (bin) => {
  const server = await launch(bin, ["--", process.execPath, workerScript])
  const times = []
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now()
    const r = runSync(bin, ["--restart", `--pid-file=${server.pidFile}`, `--status-file=${server.status}`])
    if (r.status !== 0) throw new Error(`--restart exited ${r.status}`)
    times.push(performance.now() - t0)
  }
  await stop(server)
  return median(times)
}

/** VmRSS and VmHWM (the peak) of a process, in MiB. */
const memory = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)[1]) / 1024, hwm: Number(/VmHWM:\s+(\d+)/.exec(s)[1]) / 1024 }
}
const cpuTicks = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ")
  return Number(f[11]) + Number(f[12])
}
const hz = Number(execSync("getconf CLK_TCK").toString().trim())

/**
 * An idle process's memory at 1, 10 and 60 s after start (VmHWM: its peak by 60 s), and its
 * CPU in the two windows up to 30 s and up to 60 s (V8 collects once, early, in the first).
 */
const marks = tiny ? [0.3, 0.6, 1] : [1, 10, 60]
const idleFootprint = async (start) => {
  const { pid, done } = await start()
  const t0 = performance.now()
  const at = async (seconds) => {
    await sleep(Math.max(0, seconds * 1000 - (performance.now() - t0)))
    return { ...memory(pid), ticks: cpuTicks(pid) }
  }
  const [first, tenth] = [await at(marks[0]), await at(marks[1])]
  const half = await at(marks[2] / 2)
  const last = await at(marks[2])
  await done()
  const cpuMs = (a, b) => ((b.ticks - a.ticks) / hz) * 1000
  return { rss: [first.rss, tenth.rss, last.rss], hwm: last.hwm, cpu: [cpuMs(first, half), cpuMs(half, last)] }
}
const supervisorIdle = (bin, args) => async () => {
  const server = await launch(bin, [...args, "--", process.execPath, workerScript])
  return { pid: server.child.pid, done: () => stop(server) }
}
const bareNodeIdle = async (node = process.execPath) => {
  const child = spawn(node, ["-e", "setInterval(() => {}, 1e9)"], { stdio: "ignore" })
  started.push(child)
  return { pid: child.pid, done: () => stop({ child }) }
}

/**
 * exec → the port accepts connections, and exec → the first HTTP response (the worker has
 * started too), in ms: medians of `n` cold starts.
 */
const execToServing = async (command) => {
  const accepting = []
  const responding = []
  for (let i = 0; i < (tiny ? 2 : 15); i++) {
    const port = await freePort()
    const [bin, ...args] = command(port)
    const t0 = performance.now()
    const child = spawn(bin, args, { stdio: "ignore" })
    started.push(child)
    const deadline = Date.now() + 10_000
    while (!(await listening(port))) {
      if (Date.now() > deadline) throw new Error(`${bin} never listened on ${port}`)
      await sleep(1)
    }
    accepting.push(performance.now() - t0)
    while (!(await answers(port))) {
      if (Date.now() > deadline) break
      await sleep(1)
    }
    responding.push(performance.now() - t0)
    await stop({ child })
  }
  return { accepting: median(accepting), responding: median(responding) }
}
const answers = (port) =>
  new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on("error", () => resolve(false))
  })

/**
 * Cold start of short-lived commands as a ratio to `node -e 0`, run in turns so that a busy
 * moment of the machine hits all alike. Answers each command's median ratio.
 */
const coldStarts = (commands) => {
  const times = Object.fromEntries(Object.keys(commands).map((name) => [name, []]))
  const baseline = []
  const time = (argv) => {
    const t0 = performance.now()
    spawnSync(argv[0], argv.slice(1), { stdio: "ignore" })
    return performance.now() - t0
  }
  for (let i = 0; i < (tiny ? 3 : 20); i++) {
    baseline.push(time([process.execPath, "-e", "0"]))
    for (const [name, argv] of Object.entries(commands)) times[name].push(time(argv))
  }
  const base = median(baseline)
  return { base, ratios: Object.fromEntries(Object.entries(times).map(([name, t]) => [name, median(t) / base])) }
}

/** RSS right after `count` restarts, and 10 s later. */
const afterRestarts = async (bin, args, count) => {
  const server = await launch(bin, [...args, "--", process.execPath, workerScript])
  for (let i = 0; i < count; i++) {
    const newest = Math.max(...statusLines(server.status).map((l) => Number(l.split(":")[0])))
    server.child.kill("SIGHUP")
    await waitUntil("the next generation alone", () => {
      const lines = statusLines(server.status)
      return lines.length === 1 && Number(lines[0].split(":")[0]) > newest
    })
  }
  const right = memory(server.child.pid)
  await sleep(tiny ? 500 : 10_000)
  const settled = memory(server.child.pid)
  await stop(server)
  return { right: right.rss, settled: settled.rss }
}

/**
 * `npm install -g` of the packed cli into a fresh prefix, as a user installs it: its binary,
 * the packages installed and their MiB on disk. `remove()` deletes it.
 */
const globalInstall = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-install-"))
  const packed = spawnSync(process.execPath, [path.join(root, "scripts/pack.mjs"), path.join(dir, "packs")], {
    encoding: "utf8"
  })
  const tarball = JSON.parse(packed.stdout)["@starter/cli"]
  const prefix = path.join(dir, "global")
  const npm = spawnSync("npm", ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", tarball], {
    encoding: "utf8"
  })
  if (npm.status !== 0) throw new Error(`npm install -g failed: ${npm.stderr}`)
  const modules = path.join(prefix, "lib/node_modules")
  const packages = execSync(`find ${modules} -name package.json`, { encoding: "utf8" })
    .split("\n")
    .filter((f) => /node_modules\/(@[^/]+\/)?[^/@]+\/package\.json$/.test(f)).length
  const kib = Number(execSync(`du -sk ${modules}`, { encoding: "utf8" }).split("\t")[0])
  return {
    bin: path.join(prefix, "bin/start_server"),
    packages,
    mib: kib / 1024,
    remove: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * A client command against a supervisor under a steady stream of requests (one after another,
 * each on a fresh connection): its wall time, the longest request meanwhile, and how many failed.
 */
const underRequests = async (server, command) => {
  let stopped = false
  let longest = 0
  let failed = 0
  const stream = (async () => {
    while (!stopped) {
      const t = now()
      if (!(await probeOk(server.port, 10_000))) failed += 1
      longest = Math.max(longest, now() - t)
    }
  })()
  await sleep(200)
  const t0 = now()
  // Not spawnSync: this process must go on sending (and finishing) requests meanwhile.
  const child = run(ours, command, { stdio: "ignore" })
  const exit = await new Promise((resolve) => child.once("exit", resolve))
  const wall = now() - t0
  await sleep(200)
  stopped = true
  await stream
  if (exit !== 0) throw new Error(`start_server ${command[0]} exited ${exit}`)
  return { wall, longest, failed }
}

/**
 * `start_server upgrade` (a new supervisor takes over) beside `start_server restart`, with
 * readiness and a worker that drains: no request may fail, and the longest one shows the pause.
 */
const upgradeAndRestart = async () => {
  const control = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-")), "c.sock")
  const server = await launch(
    ours,
    [`--control-socket=${control}`, "--ready=notify-fd", "--", process.execPath, workerScript],
    { DRAIN: "1" }
  )
  try {
    const restart = await underRequests(server, ["restart", `--control-socket=${control}`])
    const upgrade = await underRequests(server, ["upgrade", `--control-socket=${control}`])
    return { restart, upgrade }
  } finally {
    // The new supervisor is no child of ours: stop it through its control socket.
    runSync(ours, ["stop", `--control-socket=${control}`], { stdio: "ignore" })
  }
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

/**
 * The third table: ours on each Node line users run (this machine's and tools/node-lines), the
 * supervisor and its worker on that line: exec → the first HTTP response beside the worker
 * alone on that line, and the supervisor's RSS idle beside bare Node of that line.
 */
const nodeLineRows = []
const nodeLines = async () => {
  const lines = [
    { name: `node${process.versions.node.split(".")[0]} (this machine's)`, executable: process.execPath },
    ...installedNodeLines()
  ]
  const script = path.join(root, "packages/cli/bin/start_server.js")
  const serving = []
  for (const { executable } of lines) {
    const ours = await execToServing((port) => [
      executable,
      script,
      `--port=127.0.0.1:${port}`,
      "--",
      executable,
      workerScript
    ])
    const alone = await execToServing((port) => [
      executable,
      "-e",
      `require("http").createServer((q, r) => r.end("ok")).listen(${port}, "127.0.0.1")`
    ])
    serving.push({ accepting: ours.accepting, ours: ours.responding, alone: alone.responding })
  }
  // The idle processes side by side, at the same time.
  const idle = await Promise.all(
    lines.flatMap(({ executable }) => [
      idleFootprint(async () => {
        const server = await launch([executable, script], ["--", executable, workerScript])
        return { pid: server.child.pid, done: () => stop(server) }
      }),
      idleFootprint(() => bareNodeIdle(executable))
    ])
  )
  lines.forEach(({ name, executable }, i) => {
    const version = runSync([executable], ["--version"]).stdout.toString().trim()
    const [ours, bare] = [idle[2 * i], idle[2 * i + 1]]
    const ms = (value) => `${value.toFixed(1)} ms`
    const mib = (value) => `${value.toFixed(1)} MiB`
    nodeLineRows.push(
      `| ${name}: ${version} | ${ms(serving[i].accepting)} | ${ms(serving[i].ours)} | ${ms(serving[i].alone)} | ${mib(ours.rss[1])} | ${mib(bare.rss[1])} | ${(ours.rss[1] / bare.rss[1]).toFixed(2)}× | ${mib(ours.hwm)} |`
    )
    console.log(nodeLineRows.at(-1))
  })
}

const rows = []
const throughputRows = []
const row = (what, unit, { ours: o, bun: b, perl: p }) => {
  const cell = (value) => (value === undefined ? "—" : `${value.toFixed(1)} ${unit}`)
  const ratio = p === undefined || p === 0 ? "" : (o / p).toFixed(2)
  rows.push(`| ${what} | ${cell(o)} | ${cell(b)} | ${cell(p)} | ${ratio} |`)
  console.log(rows.at(-1))
}

/**
 * The second table: start-up and memory, ours (and ours under Bun) against Perl's and bare
 * Node, with the goals of issue #10 (for ours on Node).
 */
const footprintRows = []
const fmt = (value, unit) =>
  value === undefined ? "—" : `${value.toFixed(unit === "×" ? 2 : 1)}${unit === "×" ? "×" : ` ${unit}`}`
const footRow = (what, unit, { ours: o, bun: b, perl: p, node: n }, goal) => {
  const ratio = (a, c) => (a === undefined || c === undefined || c === 0 ? undefined : a / c)
  const verdict = goal === undefined ? "" : `${goal.text}: ${goal.met(o, p, n) ? "met" : "**not met**"}`
  footprintRows.push(
    `| ${what} | ${fmt(o, unit)} | ${fmt(b, unit)} | ${fmt(p, unit)} | ${fmt(n, unit)} | ${fmt(ratio(o, p), "×")} | ${fmt(ratio(o, n), "×")} | ${verdict} |`
  )
  console.log(footprintRows.at(-1))
}

const startupAndFootprint = async () => {
  // Start-up is measured on what users run: the binary as `npm install -g` installs it (a
  // symlink to the bundle's entry; the repository's pnpm shim adds a shell script in front).
  const installed = tiny ? undefined : globalInstall()
  try {
    await startupRows(installed === undefined ? ours : [installed.bin])
  } finally {
    installed?.remove()
  }
  if (installed !== undefined) {
    footRow(
      "`npm install -g` of the packed cli: packages",
      "",
      { ours: installed.packages },
      {
        text: "≤ 5",
        met: (o) => o <= 5
      }
    )
    footRow(
      "`npm install -g` of the packed cli: size on disk",
      "MiB",
      { ours: installed.mib },
      {
        text: "≤ 15 MiB",
        met: (o) => o <= 15
      }
    )
  }
  await memoryRows()
}

const startupRows = async (bin) => {
  const worker = (port) => [`--port=127.0.0.1:${port}`, "--", process.execPath, workerScript]
  const oursServing = await execToServing((port) => [...bin, ...worker(port)])
  const bunServing = await execToServing((port) => [...oursOnBun, ...worker(port)])
  const perlServing = perl && (await execToServing((port) => [...perl, ...worker(port)]))
  const nodeServing = await execToServing((port) => [
    process.execPath,
    "-e",
    `require("http").createServer((q, r) => r.end("ok")).listen(${port}, "127.0.0.1")`
  ])
  footRow(
    "exec → the port accepts connections",
    "ms",
    {
      ours: oursServing.accepting,
      bun: bunServing.accepting,
      perl: perlServing?.accepting,
      node: nodeServing.accepting
    },
    { text: "≤ 2× Perl", met: (o, p) => p === undefined || o <= 2 * p }
  )
  footRow("exec → the first HTTP response", "ms", {
    ours: oursServing.responding,
    perl: perlServing?.responding,
    node: nodeServing.responding
  })

  // A status client needs a supervisor to ask; --restart is timed up to its failed pid-file read.
  const control = path.join(os.tmpdir(), `bench-control-${process.pid}.sock`)
  const server = await launch(bin, [`--control-socket=${control}`, "--", process.execPath, workerScript])
  const missing = ["--restart", "--pid-file=/nonexistent/pid", "--status-file=/nonexistent/status"]
  const cold = coldStarts({
    version: [...bin, "--version"],
    bunVersion: [...oursOnBun, "--version"],
    help: [...bin, "--help"],
    restart: [...bin, ...missing],
    status: [...bin, "status", `--control-socket=${control}`],
    ...(perl
      ? { perlVersion: [...perl, "--version"], perlHelp: [...perl, "--help"], perlRestart: [...perl, ...missing] }
      : {})
  })
  await stop(server)
  const client = (what, name, { bun, perl }, limit) =>
    footRow(
      `${what}, cold start ÷ \`node -e 0\` (${cold.base.toFixed(1)} ms)`,
      "×",
      { ours: cold.ratios[name], bun: bun && cold.ratios[bun], perl: perl && cold.ratios[perl] },
      { text: `≤ ${limit}× node`, met: (o) => o <= limit }
    )
  client("`start_server --version`", "version", { bun: "bunVersion", perl: "perlVersion" }, 1.5)
  client("`start_server --help`", "help", { perl: "perlHelp" }, 1.5)
  client("`start_server --restart` client (to its pid-file read)", "restart", { perl: "perlRestart" }, 2)
  client("`start_server status` client", "status", {}, 2)
}

const memoryRows = async () => {
  // The idle processes side by side, at the same time: a minute for all of them.
  const [one, bunOne, perlOne, node, sixteen] = await Promise.all([
    idleFootprint(supervisorIdle(ours, [])),
    idleFootprint(supervisorIdle(oursOnBun, [])),
    perl ? idleFootprint(supervisorIdle(perl, [])) : undefined,
    idleFootprint(() => bareNodeIdle()),
    idleFootprint(supervisorIdle(ours, ["--workers=16"]))
  ])
  marks.forEach((seconds, i) => {
    const last = i === marks.length - 1
    footRow(
      `RSS, 1 worker, ${seconds} s after start`,
      "MiB",
      { ours: one.rss[i], bun: bunOne.rss[i], perl: perlOne?.rss[i], node: node.rss[i] },
      last ? { text: "≤ 1.25× node", met: (o, _p, n) => o <= 1.25 * n } : undefined
    )
  })
  footRow(
    `VmHWM (peak RSS), 1 worker, by ${marks[2]} s`,
    "MiB",
    { ours: one.hwm, bun: bunOne.hwm, perl: perlOne?.hwm, node: node.hwm },
    { text: "≤ 1.35× node", met: (o, _p, n) => o <= 1.35 * n }
  )
  for (const [i, seconds] of marks.entries()) {
    footRow(`RSS, 16 workers, ${seconds} s after start`, "MiB", { ours: sixteen.rss[i] })
  }
  footRow(`VmHWM (peak RSS), 16 workers, by ${marks[2]} s`, "MiB", { ours: sixteen.hwm })
  footRow(`CPU, 1 worker, idle until ${marks[2] / 2} s`, "ms", {
    ours: one.cpu[0],
    perl: perlOne?.cpu[0],
    node: node.cpu[0]
  })
  footRow(`CPU, 1 worker, idle from ${marks[2] / 2} to ${marks[2]} s`, "ms", {
    ours: one.cpu[1],
    perl: perlOne?.cpu[1],
    node: node.cpu[1]
  })
  footRow(`CPU, 16 workers, idle until ${marks[2] / 2} s`, "ms", { ours: sixteen.cpu[0] })
  footRow(`CPU, 16 workers, idle from ${marks[2] / 2} to ${marks[2]} s`, "ms", { ours: sixteen.cpu[1] })

  const restarts = tiny ? 5 : 100
  const oursAfter = await afterRestarts(ours, ["--ready=notify-fd"], restarts)
  const perlAfter = perl && (await afterRestarts(perl, ["--interval=0"], restarts))
  footRow(`RSS right after ${restarts} restarts (ours --ready=notify-fd, Perl --interval=0)`, "MiB", {
    ours: oursAfter.right,
    perl: perlAfter?.right
  })
  footRow(
    `RSS 10 s after ${restarts} restarts`,
    "MiB",
    { ours: oursAfter.settled, perl: perlAfter?.settled },
    { text: `within 10 MiB of idle (${fmt(one.rss[2], "MiB")})`, met: (o) => o - one.rss[2] <= 10 }
  )
}

try {
  const plain = ["--", process.execPath, workerScript]
  const perlDefault = perl && (await hupToOldExit(perl, plain))
  row("HUP → old worker exited, --interval=1", "ms", {
    ours: (await hupToOldExit(ours, plain)).exit,
    perl: perlDefault?.exit
  })
  // A worker ready 100 ms after it started: ours retires the old one when it says so, Perl after --interval.
  const withReady = ["--ready=notify-fd", ...plain]
  const ready100 = await hupToOldExit(ours, withReady, { READY_DELAY_MS: "100" })
  const ready100Bun = await hupToOldExit(oursOnBun, withReady, { READY_DELAY_MS: "100" })
  const readyAt = (r) => r.ready ?? Number.NaN
  row("HUP → new worker ready (worker ready 100 ms after start; its own time)", "ms", {
    ours: readyAt(ready100),
    bun: readyAt(ready100Bun)
  })
  row("HUP → old worker exited, worker ready after 100 ms (ours: --ready=notify-fd)", "ms", {
    ours: ready100.exit,
    bun: ready100Bun.exit,
    perl: perlDefault?.exit
  })
  row("  of which after the worker was ready", "ms", {
    ours: ready100.exit - readyAt(ready100),
    bun: ready100Bun.exit - readyAt(ready100Bun)
  })
  row("--restart wall time", "ms", { ours: await restartWall(ours), perl: perl && (await restartWall(perl)) })
  row("probes failed while the worker is SIGKILLed every second", "%", {
    ours: await killLoopFailures(ours, plain),
    perl: perl && (await killLoopFailures(perl, plain))
  })
  const { restart, upgrade } = await upgradeAndRestart()
  for (const [what, r] of [
    ["`start_server restart` wall time (--ready=notify-fd)", restart],
    ["`start_server upgrade` wall time (a new supervisor takes over)", upgrade]
  ]) {
    row(what, "ms", { ours: r.wall })
    row("  longest request during it", "ms", { ours: r.longest })
    row("  requests that failed during it", "", { ours: r.failed })
  }
  await startupAndFootprint()
  await nodeLines()
  for (const n of tiny ? [1, 4] : [1, 4, 16])
    row(`rolling restart, --workers=${n} --ready=notify-fd`, "ms", { ours: await rolling(n) })
  for (const keepAlive of [true, false]) {
    const r = await throughput(keepAlive)
    const cell = (value) => (value === undefined ? "—" : `${value.toFixed(0)} (${(value / r.bound).toFixed(2)})`)
    throughputRows.push(
      `| ${keepAlive ? "keep-alive" : "a new connection per request"} | ${r.bound.toFixed(0)} | ${cell(r.ours)} | ${cell(r.bun)} | ${cell(r.perl)} |`
    )
    console.log(throughputRows.at(-1))
  }
} finally {
  // Each whole tree, the supervisor first (else it would replace a killed worker): a supervisor
  // killed alone would leave its workers running.
  for (const child of started) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    for (const pid of tree(child.pid)) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {}
    }
  }
  fs.rmSync(workerScript, { force: true })
}

const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown"
const perlVersion = perl ? runSync(perl, ["--version"]).stdout.toString().trim() : "not installed"
const bunVersion = runSync([oursOnBun[0]], ["--version"]).stdout.toString().trim()
const report = `# Benchmarks

Written by \`pnpm bench${tiny ? " -- --tiny" : ""}\` on ${new Date().toISOString().slice(0, 10)}.
Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()},
Node ${process.version}, Bun ${bunVersion}, Perl start_server ${perlVersion}. Medians of ${samples} samples; the
worker is a minimal Node HTTP server (the script is inlined in bench/run.mjs). "ours" is our
start_server on Node; "ours under Bun" the same bundle run by Bun (\`bun packages/cli/bin/start_server.js\`,
Bun's own process as the supervisor); the worker runs on Node under all of them.

| measurement | ours | ours under Bun | Perl's start_server | ours ÷ Perl |
| --- | --- | --- | --- | --- |
${rows.join("\n")}

Start-up and footprint, side by side in the same run: ours (on Node and under Bun), Perl's
start_server and bare Node (for start-up a script that only binds the port and serves; for memory
\`node -e 'setInterval(() => {}, 1e9)'\`). The supervisors run the same worker. Medians of
${tiny ? 2 : 15} cold starts; cold starts of the short commands are medians of ${tiny ? 3 : 20} runs taken in
turns with \`node -e 0\`.

| measurement | ours | ours under Bun | Perl's start_server | bare node | ours ÷ Perl | ours ÷ node | goal |
| --- | --- | --- | --- | --- | --- | --- | --- |
${footprintRows.join("\n")}

Ours on each Node line, the supervisor and its worker both on that line's official binary
(tools/node-lines); no V8 flag is set at run time on any line. exec → the first HTTP response
beside a script that only binds the port and serves, on that line (medians of ${tiny ? 2 : 15} cold starts);
RSS ${marks[1]} s after start with one idle worker beside bare Node of that line, in the same run;
VmHWM by ${marks[2]} s.

| Node | exec → the port accepts | exec → first response | a bare node server | RSS idle, ${marks[1]} s | bare node | ours ÷ node | VmHWM |
| --- | --- | --- | --- | --- | --- | --- | --- |
${nodeLineRows.join("\n")}

Throughput: requests per second to one worker process, binding the port itself (no
supervisor at all) or serving on a supervisor's inherited socket; in brackets the ratio to the
first. A supervisor that never accepts is not in the data path, so it should be ≈ 1.00. Load:
\`${loadTool}\`, 32 connections, ${loadSeconds} s per sample, medians of ${tiny ? 1 : 3}, on the same machine (the
generator and the worker share its ${os.cpus().length} cores).

| connections | worker binding the port itself | under our start_server | under ours on Bun | under Perl's start_server |
| --- | --- | --- | --- | --- |
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
