/**
 * One seeded chaos run against the real binary (loopback only): a supervisor with a plain
 * worker (one that watches nothing, so whatever is left behind shows), then a random
 * interleaving of HUP, upgrade (good, and a binary that fails), scale, status, control floods,
 * worker kills and exec failures, ended by a stop or a TERM. Every client's answer is recorded
 * with what was true then, for the test to judge.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import {
  bunExecutable,
  fixtures,
  freePort,
  isRunning,
  nodeExecutable,
  readIfExists,
  sleep,
  startServerJs,
  statusLines,
  tempDir
} from "./Harness.js"

/** mulberry32: a small PRNG, the same sequence for the same seed. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export type Runtime = "node" | "bun"

export interface ClientResult {
  readonly action: string
  readonly args: ReadonlyArray<string>
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** Milliseconds since the run began, when it was asked. */
  readonly issued: number
  /** Milliseconds since the run began, when it answered. */
  readonly at: number
}

export interface ChaosOutcome {
  readonly seed: number
  readonly runtime: Runtime
  readonly steps: ReadonlyArray<string>
  readonly clients: ReadonlyArray<ClientResult>
  /** Every content the pid file had, as polled. */
  readonly pidFileContents: ReadonlySet<string>
  /** Processes of this run (their command line names its directory) still running at the end. */
  readonly leftRunning: ReadonlyArray<number>
  /** Whether the port could be bound at the end. */
  readonly portFree: boolean
  /** The pid file at the end (undefined: removed). */
  readonly pidFileAtEnd: string | undefined
  /** The supervisors' shared log. */
  readonly log: string
}

const cmdline = (pid: number) => (readIfExists(`/proc/${pid}/cmdline`) ?? "").split("\0").join(" ")

/** Processes whose command line mentions `text`. */
export const processesMentioning = (text: string): Array<number> =>
  fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && isRunning(pid) && cmdline(pid).includes(text))

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)))
  })

const command = (runtime: Runtime): readonly [string, ReadonlyArray<string>] =>
  runtime === "bun" ? [bunExecutable, [startServerJs]] : [nodeExecutable, [startServerJs]]

export const bunAvailable = fs.existsSync(bunExecutable)

export const run = async (seed: number, runtime: Runtime, steps: number): Promise<ChaosOutcome> => {
  const random = prng(seed)
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!
  const dir = tempDir()
  const port = await freePort()
  const files = {
    pid: path.join(dir, "app.pid"),
    status: path.join(dir, "status"),
    control: path.join(dir, "c.sock"),
    log: path.join(dir, "log"),
    fail: path.join(dir, "fail")
  }
  const [exe, pre] = command(runtime)
  const started = Date.now()
  const clients: Array<ClientResult> = []
  const pending: Array<Promise<void>> = []
  const done: Array<string> = []
  const children: Array<ChildProcess> = []

  /** A client command of the binary, its answer recorded. Bounded: killed after 40 s. */
  const client = (action: string, args: ReadonlyArray<string>) => {
    const child = spawn(exe, [...pre, ...args, `--control-socket=${files.control}`], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.push(child)
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString()
    })
    const issued = Date.now() - started
    const timer = setTimeout(() => child.kill("SIGKILL"), 40_000)
    const finished = new Promise<void>((resolve) =>
      child.once("close", (code) => {
        clearTimeout(timer)
        clients.push({ action, args, code, stdout, stderr, issued, at: Date.now() - started })
        resolve()
      })
    )
    pending.push(finished)
    return finished
  }

  const log = fs.openSync(files.log, "a")
  // The worker: fails at once while `fail` exists (an exec failure as the supervisor sees it),
  // else the plain worker, its command line naming this run's directory.
  const worker = `test -e ${files.fail} && exit 3; exec ${nodeExecutable} ${path.join(fixtures, "unwatching-worker.mjs")} ${dir}`
  const supervisor = spawn(
    exe,
    [
      ...pre,
      `--port=127.0.0.1:${port}`,
      `--pid-file=${files.pid}`,
      `--status-file=${files.status}`,
      `--control-socket=${files.control}`,
      "--workers=2",
      "--interval=0",
      "--kill-timeout=2",
      "--",
      "sh",
      "-c",
      worker,
      dir
    ],
    { stdio: ["ignore", log, log] }
  )
  children.push(supervisor)
  fs.closeSync(log)

  const pidFileContents = new Set<string>()
  const poll = setInterval(() => {
    const now = readIfExists(files.pid)
    // Created empty, then written: from its first pid on, it must only ever hold a pid.
    if (now !== undefined && (now !== "" || pidFileContents.size > 0)) pidFileContents.add(now)
  }, 25)
  const supervisorNow = () => Number(readIfExists(files.pid)) || supervisor.pid || 0
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(pid, name)
    } catch {
      // gone
    }
  }

  try {
    for (let tries = 0; statusLines(files.status).length < 2 && tries < 500; tries++) await sleep(20)
    const actions: Record<string, () => void | Promise<void>> = {
      hup: () => signal(supervisorNow(), "SIGHUP"),
      upgrade: () => void client("upgrade", ["upgrade", "--timeout=15"]),
      "upgrade-fails": () => void client("upgrade", ["upgrade", "--binary=/bin/false", "--timeout=15"]),
      scale: () => void client("scale", ["scale", String(1 + Math.floor(random() * 3))]),
      status: () => void client("status", ["status", "--json"]),
      "kill-worker": () => {
        const lines = statusLines(files.status)
        if (lines.length > 0) signal(Number(pick(lines).split(":")[1]), "SIGKILL")
      },
      // A new supervisor on its way (the child of the one in charge that binds ports), killed.
      "kill-new-supervisor": () => {
        const parent = supervisorNow()
        for (const pid of processesMentioning(dir)) {
          const stat = readIfExists(`/proc/${pid}/stat`) ?? ""
          const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
          if (ppid === parent && cmdline(pid).includes("--port=")) signal(pid, "SIGKILL")
        }
      },
      "exec-fails": () => fs.writeFileSync(files.fail, ""),
      "exec-works": () => fs.rmSync(files.fail, { force: true }),
      flood: async () => {
        // 64 connections, a status each, all at once; closed without reading the replies.
        const sockets = Array.from({ length: 64 }, () => {
          const s = net.connect(files.control)
          s.on("error", () => {})
          s.on("connect", () => s.write('{"v":1,"id":1,"cmd":"status"}\n'))
          return s
        })
        await sleep(100)
        for (const s of sockets) s.destroy()
      }
    }
    const names = Object.keys(actions)
    for (let i = 0; i < steps; i++) {
      const name = pick(names)
      done.push(name)
      await actions[name]!()
      await sleep(Math.floor(random() * 400))
    }
    // The end: exec works again (a stop must not wait on a crash loop); once every client has
    // answered, what the supervisor in charge says now (`final-status`), then stop or TERM.
    fs.rmSync(files.fail, { force: true })
    await Promise.all(pending)
    // A crash loop's backoff may still hold the next start: asked until something serves (each
    // answer is checked as any status is; exit 1 says truthfully that nothing serves yet).
    for (let tries = 0; tries < 50; tries++) {
      await client("status", ["status", "--json"])
      if (clients.at(-1)?.code !== 1) break
      await sleep(200)
    }
    await client("final-status", ["status", "--json"])
    if (random() < 0.5) {
      done.push("stop")
      await client("stop", ["stop"])
    } else {
      done.push("term")
      signal(supervisorNow(), "SIGTERM")
    }
    await Promise.all(pending)
    // Whatever was asked meanwhile has answered; now everything must be gone within 30 s.
    const deadline = Date.now() + 30_000
    while (processesMentioning(dir).length > 0 && Date.now() < deadline) await sleep(100)
    return {
      seed,
      runtime,
      steps: done,
      clients,
      pidFileContents,
      leftRunning: processesMentioning(dir),
      portFree: await portIsFree(port),
      pidFileAtEnd: readIfExists(files.pid),
      log: readIfExists(files.log) ?? ""
    }
  } finally {
    clearInterval(poll)
    // Never leave anything behind, even when the run itself failed.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    for (const pid of processesMentioning(dir)) signal(pid, "SIGKILL")
  }
}
