/**
 * `start_server upgrade` as a service manager sees it: under systemd (`Type=notify`) the old
 * supervisor says RELOADING=1 and the new one MAINPID=<its pid> and READY=1 (or the old one
 * READY=1 again when the upgrade fails); with `--daemonize` the pid file names the new one,
 * which holds its lock, and `--restart` and `--stop` through it work.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import {
  fixtures,
  freePort,
  generationsIn,
  get,
  isRunning,
  nodeExecutable,
  readIfExists,
  runToExit,
  startServer,
  statusLines,
  tempDir,
  trackPids,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { startLoad } from "./support/Load.js"

const track = trackSupervisors()

/** Supervisors that are not this process's children (successors, daemons): each test stops its own. */
const orphans = trackPids()

const worker = path.join(fixtures, "upgrade-worker.mjs")
const pidIn = (file: string) => Number(readIfExists(file) ?? "0")
const monotonicUsec = () => process.hrtime.bigint() / 1000n

/** systemd's notify socket: each datagram, with the pid that sent it. */
const notifyReceiver = async (socket: string) => {
  const receiver: ChildProcess = spawn("python3", [path.join(fixtures, "notify-receiver.py"), socket, "60", "--pid"], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  onTestFinished(() => {
    receiver.kill()
  })
  let received = ""
  receiver.stdout?.on("data", (chunk: Buffer) => {
    received += chunk.toString()
  })
  await waitFor("the receiver", () => (received.includes("listening") ? true : undefined))
  return () =>
    received
      .split("\n")
      .filter((line) => /^(\d+|\?) '/.test(line))
      .map((line) => {
        const space = line.indexOf(" ")
        return { pid: Number(line.slice(0, space)), message: line.slice(space + 1) }
      })
}

describe("start_server upgrade under systemd (Type=notify)", () => {
  const startNotified = async () => {
    const dir = tempDir()
    const received = await notifyReceiver(path.join(dir, "notify.sock"))
    const port = await freePort()
    const files = { pid: path.join(dir, "pid"), status: path.join(dir, "status"), control: path.join(dir, "ctl.sock") }
    const server = track(
      startServer(
        [
          `--port=127.0.0.1:${port}`,
          `--pid-file=${files.pid}`,
          `--status-file=${files.status}`,
          `--control-socket=${files.control}`,
          "--workers=2",
          "--ready=notify-fd",
          "--",
          nodeExecutable,
          worker
        ],
        { env: { NOTIFY_SOCKET: path.join(dir, "notify.sock") } }
      )
    )
    await waitFor("READY=1", () => (received().some((r) => r.message.startsWith("'READY=1")) ? true : undefined))
    return { port, files, server, received }
  }

  it("RELOADING=1 from the old supervisor, then MAINPID=<new pid> and READY=1 from the new one; STOPPING=1 from it at the end", async () => {
    const { port, files, server, received } = await startNotified()
    const before = monotonicUsec()
    const result = await runToExit(["upgrade", `--control-socket=${files.control}`])
    const after = monotonicUsec()
    const pid = pidIn(files.pid)
    orphans.add(pid)
    expect(result).toMatchObject({ code: 0, stderr: "" })
    expect((await server.exited).code).toBe(0)
    expect(await get(port)).toMatch(/^hello from generation 2/)

    await waitFor("the new supervisor's READY=1", () => (received().length >= 3 ? true : undefined))
    const upgraded = received()
    const usec = BigInt(/MONOTONIC_USEC=(\d+)/.exec(upgraded[1]?.message ?? "")?.[1] ?? "0")
    // The clock systemd (>= 253) compares it with: CLOCK_MONOTONIC, when the reload began.
    expect(usec >= before && usec <= after).toBe(true)
    expect(
      upgraded.map((r) => ({ ...r, message: r.message.replace(/MONOTONIC_USEC=\d+/, "MONOTONIC_USEC=N") }))
    ).toEqual([
      { pid: server.pid, message: "'READY=1\\nSTATUS=generation 1, 2 workers'" },
      { pid: server.pid, message: "'RELOADING=1\\nMONOTONIC_USEC=N\\nSTATUS=upgrading'" },
      { pid, message: `'MAINPID=${pid}\\nREADY=1\\nSTATUS=generation 2, 2 workers'` }
    ])

    // From now on systemd hears the new supervisor only, as the main process.
    const stop = await runToExit(["--stop", `--pid-file=${files.pid}`])
    expect(stop.code).toBe(0)
    await waitFor("STOPPING=1", () => (received().length > 3 ? true : undefined))
    expect(received().slice(3)).toEqual([{ pid, message: "'STOPPING=1'" }])
  }, 60_000)

  it("an upgrade that fails after RELOADING=1 brings the old supervisor back to READY=1", async () => {
    const { files, server, received } = await startNotified()
    const result = await runToExit([
      "upgrade",
      `--control-socket=${files.control}`,
      `--binary=${path.join(fixtures, "exiting-supervisor.mjs")}`
    ])
    expect(result.code).toBe(10)
    expect(pidIn(files.pid)).toBe(server.pid)
    await waitFor("the second READY=1", () => (received().length >= 3 ? true : undefined))
    expect(
      received().map((r) => ({ ...r, message: r.message.replace(/MONOTONIC_USEC=\d+/, "MONOTONIC_USEC=N") }))
    ).toEqual([
      { pid: server.pid, message: "'READY=1\\nSTATUS=generation 1, 2 workers'" },
      { pid: server.pid, message: "'RELOADING=1\\nMONOTONIC_USEC=N\\nSTATUS=upgrading'" },
      { pid: server.pid, message: "'READY=1\\nSTATUS=upgrade failed, serving as before'" }
    ])
  }, 60_000)

  it("an upgrade that fails before anything starts (the binary is missing) tells systemd nothing", async () => {
    const { files, server, received } = await startNotified()
    const result = await runToExit(["upgrade", `--control-socket=${files.control}`, "--binary=/nonexistent/bin.js"])
    expect(result.code).toBe(10)
    // A HUP afterwards: its RELOADING=1 comes right after the first READY=1, nothing between.
    server.kill("SIGHUP")
    await waitFor("the restart's READY=1", () => (received().length >= 3 ? true : undefined))
    expect(received().map((r) => r.message.replace(/MONOTONIC_USEC=\d+/, "MONOTONIC_USEC=N"))).toEqual([
      "'READY=1\\nSTATUS=generation 1, 2 workers'",
      "'RELOADING=1\\nMONOTONIC_USEC=N\\nSTATUS=restarting'",
      expect.stringMatching(/^'READY=1\\nSTATUS=generation 2, \d workers'$/)
    ])
  }, 60_000)
})

describe("start_server upgrade with --daemonize: the pid file is the truth", () => {
  it("names the new supervisor, which holds its lock and logs where the daemon did; --restart and --stop through it work", async () => {
    const dir = tempDir()
    const port = await freePort()
    const files = {
      pid: path.join(dir, "pid"),
      status: path.join(dir, "status"),
      log: path.join(dir, "log")
    }
    const daemonized = await runToExit([
      "--daemonize",
      `--pid-file=${files.pid}`,
      `--status-file=${files.status}`,
      `--log-file=${files.log}`,
      // Beside the pid file, where `upgrade --pid-file` looks for it.
      `--control-socket=${path.join(dir, "start_server.sock")}`,
      `--port=127.0.0.1:${port}`,
      "--workers=2",
      "--ready=notify-fd",
      "--",
      nodeExecutable,
      worker
    ])
    const old = pidIn(files.pid)
    orphans.add(old)
    expect(daemonized.code).toBe(0)
    await waitFor("2 workers of generation 1", () =>
      statusLines(files.status).length === 2 && generationsIn(files.status).has(1) ? true : undefined
    )
    const load = startLoad(port)

    const result = await runToExit(["upgrade", `--pid-file=${files.pid}`])
    const pid = pidIn(files.pid)
    orphans.add(pid)
    const { failed, reset } = await load.stop()
    expect(result).toMatchObject({ code: 0, stderr: "" })
    expect(result.stdout).toMatch(
      new RegExp(`\\(pid ${pid}\\) serves generation 2; start_server \\(pid ${old}\\) has exited`)
    )
    expect([failed, reset]).toEqual([[], 0])
    expect(pid).not.toBe(old)
    expect(isRunning(old)).toBe(false)
    expect(isRunning(pid)).toBe(true)
    // Still a daemon: stdin from /dev/null, its output (and its workers') in the log.
    expect(fs.readlinkSync(`/proc/${pid}/fd/0`)).toBe("/dev/null")
    expect(fs.readlinkSync(`/proc/${pid}/fd/2`)).toBe(files.log)
    expect(readIfExists(files.log)).toContain(`start_server (pid:${pid}) took over from start_server (pid:${old})\n`)
    // The lock is held, by the new supervisor: a second daemon is refused, naming it.
    const second = await runToExit([
      "--daemonize",
      `--pid-file=${files.pid}`,
      `--log-file=${path.join(dir, "second.log")}`,
      `--port=127.0.0.1:${await freePort()}`,
      "--",
      "true"
    ])
    expect(second.code).toBe(255)
    expect(second.stderr).toContain(`pid file ${files.pid} is locked by a running start_server (pid ${pid})`)

    const restart = await runToExit(["--restart", `--pid-file=${files.pid}`, `--status-file=${files.status}`])
    expect(restart.code).toBe(0)
    expect(generationsIn(files.status)).toEqual(new Set([3]))
    expect(await get(port)).toMatch(/^hello from generation 3/)

    // Again, by a signal to whatever the pid file names (no control socket needed).
    process.kill(pidIn(files.pid), "SIGUSR2")
    const third = await waitFor("a third supervisor in the pid file", () => {
      const now = pidIn(files.pid)
      return now > 0 && now !== pid ? now : undefined
    })
    orphans.add(third)
    await waitFor("the second supervisor to exit", () => (isRunning(pid) ? undefined : true))
    expect(generationsIn(files.status)).toEqual(new Set([4]))

    const stop = await runToExit(["--stop", `--pid-file=${files.pid}`])
    expect(stop.code).toBe(0)
    expect(stop.stderr).toContain(`stopping now (pid:${third})`)
    expect(isRunning(third)).toBe(false)
    expect(fs.existsSync(files.pid)).toBe(false)
  }, 60_000)
})
