/**
 * The init-style example (examples/init/app): --daemonize --log-file --pid-file
 * --status-file, then --restart and --stop, as an init script would run them.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import {
  commandFor,
  freePort,
  get,
  readIfExists,
  repoRoot,
  runToExit,
  runtime,
  startServerBin,
  tempDir,
  waitFor
} from "./support/Harness.js"

const run = promisify(execFile)
const app = path.join(repoRoot, "examples/init/app")

/** What the init script runs as start_server: under Bun, a script that execs Bun on our binary. */
const startServerCommand = (dir: string): string => {
  if (runtime === "node") return startServerBin
  const [bun, args] = commandFor(startServerBin, [])
  const script = path.join(dir, "start_server")
  fs.writeFileSync(script, `#!/bin/sh\nexec ${[bun, ...args].map((w) => `'${w}'`).join(" ")} "$@"\n`, { mode: 0o755 })
  return script
}

const procStat = (pid: number) => {
  // fields after the command: state ppid pgrp session
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const [, ppid, pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return { ppid: Number(ppid), pgrp: Number(pgrp), session: Number(session) }
}

describe("--daemonize with the init-style example", () => {
  it("starts a daemon, restarts it and stops it", async () => {
    const dir = tempDir()
    const port = await freePort()
    const env = { ...process.env, APP_RUN: dir, APP_PORT: `127.0.0.1:${port}`, START_SERVER: startServerCommand(dir) }
    const started = await run(app, ["start"], { env })
    // The foreground reports on the terminal, then exits 0 once the daemon runs.
    expect(started.stderr).toMatch(/^start_server \(pid:\d+\) starting now\.\.\.\n$/)
    const daemon = Number(readIfExists(path.join(dir, "pid")))
    expect(daemon).toBeGreaterThan(0)
    expect(started.stderr).not.toContain(`pid:${daemon})`)
    // Its own session, like Perl's setsid; stdin from /dev/null; stdout and stderr in the log.
    expect(procStat(daemon).session).toBe(daemon)
    expect(fs.readlinkSync(`/proc/${daemon}/fd/0`)).toBe("/dev/null")
    expect(fs.readlinkSync(`/proc/${daemon}/fd/2`)).toBe(path.join(dir, "log"))

    const first = await waitFor("generation 1", () => readIfExists(path.join(dir, "status"))?.match(/^1:(\d+)\n$/)?.[1])
    expect(await get(port)).toBe(`hello from generation 1, pid ${first}\n`)

    await run(app, ["restart"], { env })
    const second = readIfExists(path.join(dir, "status"))?.match(/^2:(\d+)\n$/)?.[1]
    expect(second).toBeDefined()
    expect(await get(port)).toBe(`hello from generation 2, pid ${second}\n`)

    await run(app, ["stop"], { env })
    expect(fs.existsSync(path.join(dir, "pid"))).toBe(false)
    // Gone, or a zombie waiting for init to reap it.
    expect(readIfExists(`/proc/${daemon}/stat`)?.split(") ")[1]?.[0] ?? "gone").toMatch(/^(gone|Z)$/)
    const log = readIfExists(path.join(dir, "log")) ?? ""
    expect(log).toContain(`starting new worker ${first}\n`)
    expect(log).toContain(`[worker ${second} gen 2] serving SERVER_STARTER_PORT=127.0.0.1:${port}=3\n`)
    expect(log).toContain("exiting\n")
    expect(log).not.toContain("starting now")
  })

  it("reports a bind error in the foreground with its exit code, before daemonizing", async () => {
    const dir = tempDir()
    const port = await freePort()
    const blocker = await runToExit(["--version"])
    expect(blocker.code).toBe(0)
    const net = await import("node:net")
    const server = net.createServer().listen(port, "127.0.0.1")
    await new Promise((resolve) => server.once("listening", resolve))
    const result = await runToExit([
      "--daemonize",
      `--log-file=${path.join(dir, "log")}`,
      `--port=127.0.0.1:${port}`,
      `--pid-file=${path.join(dir, "pid")}`,
      "--",
      "true"
    ])
    server.close()
    expect(result.code).toBe(98)
    expect(result.stderr).toContain(`failed to bind to 127.0.0.1:${port}:Address already in use`)
    expect(fs.existsSync(path.join(dir, "pid"))).toBe(false)
  })

  it("a daemon that cannot take its pid file makes the foreground fail", async () => {
    const dir = tempDir()
    const pidFile = path.join(dir, "pid")
    const first = await run(
      ...commandFor(startServerBin, [
        "--daemonize",
        `--log-file=${dir}/log1`,
        `--pid-file=${pidFile}`,
        "--",
        "sleep",
        "100"
      ])
    )
    expect(first.stderr).toContain("starting now")
    const holder = readIfExists(pidFile)
    const second = await runToExit([
      "--daemonize",
      `--log-file=${dir}/log2`,
      `--pid-file=${pidFile}`,
      "--",
      "sleep",
      "100"
    ])
    expect(second.code).toBe(255)
    expect(second.stderr).toContain(`pid file ${pidFile} is locked by a running start_server (pid ${holder?.trim()})`)
    expect(readIfExists(pidFile)).toBe(holder)
    const stopped = await runToExit(["--stop", `--pid-file=${pidFile}`])
    expect(stopped.code).toBe(0)
  })
})

describe("--log-file", () => {
  it("appends the supervisor's and the workers' output to a file", async () => {
    const dir = tempDir()
    const log = path.join(dir, "log")
    fs.writeFileSync(log, "earlier line\n")
    const result = await runToExit([
      `--log-file=${log}`,
      "--interval=0",
      "--",
      "sh",
      "-c",
      "echo out; echo err >&2; kill -TERM $PPID"
    ])
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/^start_server \(pid:\d+\) starting now\.\.\.$/)
    const content = readIfExists(log) ?? ""
    // Appended; the worker's lines may come before or after "starting new worker" (it runs at once).
    expect(content.startsWith("earlier line\n")).toBe(true)
    expect(content).toMatch(/^starting new worker \d+$/m)
    expect(content).toContain("out\n")
    expect(content).toContain("err\n")
    expect(content).toMatch(/received TERM, sending TERM to all workers:\d+\n/)
  })

  it('pipes the output to a command with --log-file="| cmd"', async () => {
    const dir = tempDir()
    const log = path.join(dir, "piped")
    const result = await runToExit([
      `--log-file= | sed -u "s/^/LOG: /" >> ${log}`,
      "--interval=0",
      "--",
      "sh",
      "-c",
      "echo hi; kill -TERM $PPID"
    ])
    expect(result.code).toBe(0)
    await waitFor("the pipe to flush", () => (readIfExists(log)?.includes("LOG: exiting") ? true : undefined))
    expect(readIfExists(log)).toContain("LOG: hi\n")
  })

  it.each([
    ["a plain command runs without a shell", "| tee -a LOG"],
    ["a leading VAR=value makes it a shell command, as in Perl", "| TAG=x tee -a LOG"]
  ])('--log-file="| cmd": %s', async (_, option) => {
    const dir = tempDir()
    const log = path.join(dir, "teed")
    const result = await runToExit([
      `--log-file=${option.replace("LOG", log)}`,
      "--interval=0",
      "--",
      "sh",
      "-c",
      "echo hi; kill -TERM $PPID"
    ])
    expect(result.code).toBe(0)
    await waitFor("the pipe to flush", () => (readIfExists(log)?.includes("exiting") ? true : undefined))
    expect(readIfExists(log)).toContain("hi\n")
  })
})
