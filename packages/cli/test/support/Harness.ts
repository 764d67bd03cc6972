/**
 * Runs the real `start_server` binary (as installed at the repo root) and observes it the
 * way an operator would: its stderr lines, its files, its sockets and its exit status.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, onTestFinished, type TestContext } from "vitest"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..")
export const startServerBin = path.join(repoRoot, "node_modules/.bin/start_server")

/**
 * The runtime the binary runs on: the `cli-bun` test project sets STARTER_RUNTIME=bun and
 * runs the same test files as `cli`, so a failure's project names its runtime.
 */
export const runtime: "node" | "bun" = process.env.STARTER_RUNTIME === "bun" ? "bun" : "node"

/**
 * The Node that runs the binary and the workers: the machine's, or in a `cli-nodeNN` test
 * project one of the matrix's lines (tools/node-lines), whose directory that project also puts
 * first on PATH, so that the `.bin` shim's `node` and a worker's `node` are that line too.
 */
export const nodeExecutable: string = process.env.STARTER_NODE ?? process.execPath

/** Bun itself (the root devDependency), not its .bin shim: the shim's pid would not be the supervisor's. */
export const bunExecutable = path.join(repoRoot, "node_modules/bun/bin/bun.exe")

/** The binary's script itself (what the .bin shim runs). */
export const startServerJs = path.join(repoRoot, "packages/cli/bin/start_server.js")

/** How to run `bin`: our binary under Bun is `bun bin/start_server.js` (the .bin shim execs node). */
export const commandFor = (bin: string, args: ReadonlyArray<string>): readonly [string, ReadonlyArray<string>] =>
  runtime === "bun" && bin === startServerBin ? [bunExecutable, [startServerJs, ...args]] : [bin, args]

/** Skips the running test under Bun, naming the gap in Bun (or in our Bun platform) that it meets. */
export const skipOnBun = (context: Pick<TestContext, "skip">, gap: string): void =>
  context.skip(runtime === "bun", `not on Bun: ${gap}`)

export const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures")

export const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "starter-"))

export { freePort } from "./Ports.js"

/** Whether something accepts a connection there (a bare connect, closed at once, nothing sent). */
export const connects = (target: net.NetConnectOpts): Promise<boolean> =>
  new Promise((resolve) => {
    const probe = net.connect(target)
    probe.once("connect", () => {
      probe.destroy()
      resolve(true)
    })
    probe.once("error", () => resolve(false))
  })

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export const waitFor = async <A>(
  what: string | (() => string),
  check: () => A | undefined,
  timeoutMs = 10_000
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    // An async check answers a Promise at once, which would end the wait before it began.
    if (value instanceof Promise) throw new Error(`waitFor(${JSON.stringify(what)}): the check must be synchronous`)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`)
    await sleep(20)
  }
}

export const readIfExists = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

export interface Running {
  readonly child: ChildProcess
  readonly pid: number
  /** stderr so far, split in lines. */
  readonly lines: () => ReadonlyArray<string>
  readonly stdout: () => string
  readonly waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<string>
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly kill: (signal: NodeJS.Signals) => void
}

export const startServer = (
  args: ReadonlyArray<string>,
  options: { env?: Record<string, string | undefined>; cwd?: string; bin?: string } = {}
): Running => {
  const [command, commandArgs] = commandFor(options.bin ?? startServerBin, args)
  const child = spawn(command, commandArgs, {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stderr = ""
  let stdout = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  // 'exit', then the rest of stderr and stdout (what the process wrote last can still be in
  // the pipes when 'exit' comes): waiting for 'close' would hang on workers that outlive a
  // killed supervisor while holding the same pipes.
  const ended = (stream: NodeJS.ReadableStream | null) =>
    new Promise<void>((resolve) => (stream === null ? resolve() : stream.once("end", resolve)))
  const outputDone = Promise.all([ended(child.stderr), ended(child.stdout)])
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      void Promise.race([outputDone, sleep(500)]).then(() => resolve({ code, signal }))
    })
  )
  const lines = () => stderr.split("\n").filter((l) => l !== "")
  return {
    child,
    pid: child.pid ?? -1,
    lines,
    stdout: () => stdout,
    waitForLine: (pattern, timeoutMs) =>
      waitFor(
        () => `a line matching ${pattern} (got: ${JSON.stringify(lines())})`,
        () => lines().find((l) => pattern.test(l)),
        timeoutMs
      ),
    exited,
    kill: (signal) => {
      child.kill(signal)
    }
  }
}

/** The exit, or undefined if it has not come within `ms`. */
export const exitWithin = (server: Running, ms: number) =>
  Promise.race([server.exited, sleep(ms).then(() => undefined)])

/** Runs the binary to completion. */
export const runToExit = async (
  args: ReadonlyArray<string>,
  options: { env?: Record<string, string | undefined>; cwd?: string; bin?: string } = {}
) => {
  const running = startServer(args, options)
  // A test that fails or times out before the exit must not leave the process running.
  onTestFinished(() => {
    if (running.child.exitCode === null && running.child.signalCode === null) running.kill("SIGKILL")
  })
  const { code, signal } = await running.exited
  return { code, signal, stderr: running.lines().join("\n"), stdout: running.stdout() }
}

/** One HTTP GET on a fresh connection; answers the body. */
export const get = (port: number, pathname = "/"): Promise<string> =>
  getFrom({ host: "127.0.0.1", port, path: pathname })

/** One GET over the unix socket at `socketPath`, on a fresh connection. */
export const getUnix = (socketPath: string, pathname = "/"): Promise<string> => getFrom({ socketPath, path: pathname })

const getFrom = (target: http.RequestOptions): Promise<string> =>
  new Promise((resolve, reject) => {
    const req = http.get({ ...target, agent: false, timeout: 10_000 }, (res) => {
      let body = ""
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString()
      })
      res.on("end", () => resolve(body))
    })
    req.on("error", reject)
    req.on("timeout", () => req.destroy(new Error("timeout")))
  })

/**
 * Registers an afterEach that stops every supervisor a test started (even a failed test);
 * answers the function that registers one.
 */
export const trackSupervisors = (): ((server: Running) => Running) => {
  const running: Array<Running> = []
  afterEach(async () => {
    await Promise.all(running.splice(0).map(ensureStopped))
  })
  return (server) => {
    running.push(server)
    return server
  }
}

/**
 * For processes that are nobody's child here (a new supervisor an upgrade started, a daemon):
 * registers an afterEach that stops each one a test added (TERM, then KILL after 10 s), even
 * when the test failed; answers the set to add their pids to.
 */
export const trackPids = (): Set<number> => {
  const pids = new Set<number>()
  afterEach(async () => {
    for (const pid of pids) {
      // It may end between the check and the signal: ESRCH is no failure of the test.
      const signal = (name: NodeJS.Signals) => {
        try {
          process.kill(pid, name)
        } catch {
          // gone already
        }
      }
      if (!isRunning(pid)) continue
      signal("SIGTERM")
      await waitFor(`pid ${pid} to stop`, () => (isRunning(pid) ? undefined : true), 10_000).catch(() =>
        signal("SIGKILL")
      )
    }
    pids.clear()
  })
  return pids
}

/** The lines of a `--status-file` (`generation:pid`), none while it is missing. */
export const statusLines = (file: string): ReadonlyArray<string> =>
  (readIfExists(file) ?? "").split("\n").filter(Boolean)

/** The generations a `--status-file` names. */
export const generationsIn = (file: string): ReadonlySet<number> =>
  new Set(statusLines(file).map((line) => Number(line.split(":")[0])))

/** Whether `pid` runs (a zombie waiting to be reaped does not). */
export const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  return !/\) Z /.test(readIfExists(`/proc/${pid}/stat`) ?? "")
}

/** Ends a supervisor that a failed test left behind: TERM, then KILL after 5 s. */
export const ensureStopped = async (running: Running) => {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return
  running.kill("SIGTERM")
  const timer = setTimeout(() => running.kill("SIGKILL"), 5000)
  await running.exited
  clearTimeout(timer)
}
