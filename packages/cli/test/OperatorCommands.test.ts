/**
 * The operator's side, as a user types it: `start_server status|restart|stop|scale|signal|
 * events`, found through --pid-file, with status that tells the truth after a healthy
 * rollout, a given-up restart and a crash loop, and options checked before anything starts.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { StatusSnapshot } from "@starter/core"
import { describe, expect, it } from "vitest"
import {
  fixtures,
  freePort,
  get,
  isRunning,
  runToExit,
  sleep,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const worker = path.join(fixtures, "http-worker.mjs")
const track = trackSupervisors()

/** Until the async `check` holds (these checks run client commands). */
const eventually = async (what: string, check: () => Promise<boolean>, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/** A supervisor whose control socket sits beside its pid file, where the commands look. */
const startApp = async (extra: ReadonlyArray<string>, program: ReadonlyArray<string> = ["node", worker]) => {
  const dir = tempDir()
  const port = await freePort()
  const pidFile = path.join(dir, "app.pid")
  const server = track(
    startServer([
      `--port=127.0.0.1:${port}`,
      `--pid-file=${pidFile}`,
      `--control-socket=${path.join(dir, "start_server.sock")}`,
      ...extra,
      "--",
      ...program
    ])
  )
  return {
    dir,
    port,
    pidFile,
    server,
    cmd: (...args: ReadonlyArray<string>) => runToExit([...args, `--pid-file=${pidFile}`])
  }
}

const statusOf = async (cmd: (...args: ReadonlyArray<string>) => ReturnType<typeof runToExit>) => {
  const result = await cmd("status", "--json")
  return { code: result.code, json: JSON.parse(result.stdout) as StatusSnapshot.StatusSnapshot }
}

describe("operator commands", () => {
  it("a healthy rollout: restart waits and says so; status, scale, signal, events and stop", async () => {
    const app = await startApp(["--ready=notify-fd"])
    await app.server.waitForLine(/^starting new worker \d+$/)
    await eventually("generation 1 serving", async () => (await statusOf(app.cmd)).code === 0)
    expect(await get(app.port)).toMatch(/^hello from generation 1,/)
    const events = track(startServer(["events", "--json", `--pid-file=${app.pidFile}`]))
    await sleep(300) // the subscription is in place before the restart below

    const restarted = await app.cmd("restart")
    expect(restarted).toMatchObject({ code: 0, stdout: "restart: ready, generation 2 serves\n" })
    const { code, json } = await statusOf(app.cmd)
    expect(code).toBe(0)
    expect(json.lastRestart).toMatchObject({ reason: "control", outcome: "ready", generation: 2, failedStarts: 0 })
    expect(json.servingGeneration).toBe(2)
    const text = await app.cmd("status")
    expect(text.stdout).toMatch(/^state: serving; serving generation 2, 1\/1 workers serving\n/)
    expect(text.stdout).toMatch(/\nlast restart \(control\): ready \d+s ago, generation 2\n/)
    // Each worker's RSS and CPU come from /proc: a real number, not a dash.
    expect(text.stdout).toMatch(/\n\d+\s+2\s+0\s+serving\s+\d+s\s+\d+s\s+1\s+[\d.]+[KMG]\s+[\d.]+s\n/)
    expect(text.stdout).toMatch(/recent exits:\n {2}\d+ \(gen 1\) exit code 0 at /)

    expect(await app.cmd("scale", "2")).toMatchObject({ code: 0, stdout: "scaling to 2 workers\n" })
    await eventually("two serving", async () => (await statusOf(app.cmd)).json.workers.length === 2)
    expect(await app.cmd("signal", "CONT")).toMatchObject({ code: 0, stdout: "sent SIGCONT to 2 workers\n" })

    const supervisorPid = Number(fs.readFileSync(app.pidFile, "utf8"))
    const stopped = await app.cmd("stop")
    expect(stopped).toMatchObject({ code: 0, stdout: "stopped\n" })
    // It returns only once the supervisor is gone.
    expect(isRunning(supervisorPid)).toBe(false)
    const after = await app.cmd("status")
    expect(after.code).toBe(3)
    expect(after.stderr).toBe(`start_server is not running (no control socket at ${app.dir}/start_server.sock)`)

    await events.exited
    const seen = events
      .stdout()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => (JSON.parse(l) as { _tag: string })._tag)
    expect(seen).toEqual(
      expect.arrayContaining(["RolloutStarted", "WorkerReady", "RolloutCompleted", "ShutdownStarted"])
    )
  })

  it("a restart that gives up: status names the failure and the generation still serving, in text and JSON", async () => {
    // Generation 1 serves; every later one exits at once.
    const app = await startApp(
      ["--interval=1", "--max-start-attempts=2"],
      ["sh", "-c", `[ "$SERVER_STARTER_GENERATION" -gt 1 ] && exit 3; exec node ${worker}`]
    )
    await app.server.waitForLine(/^starting new worker \d+$/)
    await eventually("generation 1 serving", async () => (await statusOf(app.cmd)).code === 0)
    const restarted = await app.cmd("restart")
    expect(restarted.code).toBe(10)
    expect(restarted.stderr).toBe("restart failed: exited with code 3 before it was ready")
    const { code, json } = await statusOf(app.cmd)
    expect(code).toBe(0) // generation 1 keeps serving
    expect(json.servingGeneration).toBe(1)
    expect(json.generation).toBe(3)
    expect(json.lastRestart).toMatchObject({
      outcome: "failed",
      failedStarts: 2,
      lastFailure: "exited with code 3 before it was ready"
    })
    expect(json.recentExits.map((e) => e.description)).toEqual(["exit code 3", "exit code 3"])
    const text = await app.cmd("status")
    expect(text.stdout).toMatch(
      /\nlast restart \(control\): FAILED \d+s ago, given up after 2 failed starts: exited with code 3 before it was ready; generation 1 keeps serving\n/
    )
    expect(text.stdout).not.toMatch(/exit status:/)
  })

  it("a crash loop: status says so by name and exits 1 (not ready), still answering", async () => {
    const app = await startApp(["--interval=0"], ["sh", "-c", "sleep 0.05; exit 7"])
    await app.server.waitForLine(/^crash loop: /, 20_000)
    // A replacement serves for its 50 ms between backoffs: read while the loop holds respawns.
    let snapshot = await statusOf(app.cmd)
    await eventually("a read during a backoff", async () => {
      snapshot = await statusOf(app.cmd)
      return snapshot.json.workers.length === 0
    })
    const { code, json } = snapshot
    expect(code).toBe(1)
    expect(json.crashLoop).toBe(true)
    expect(["crash-loop", "backing-off"]).toContain(json.state)
    // The text names the loop whatever the moment: also while a replacement serves.
    const text = await app.cmd("status")
    expect(text.stdout.split("\n")[0]).toMatch(/CRASH LOOP/)
    expect(text.stdout).toMatch(/exit code 7 at /)
  })

  it("each command has --help with its exit statuses; no socket to find is a usage error", async () => {
    for (const name of ["status", "restart", "stop", "scale", "signal", "events"]) {
      const help = await runToExit([name, "--help"])
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(new RegExp(`^usage: start_server ${name}`))
      expect(help.stdout).toMatch(/\nexit status:\n {2}0 /)
    }
    const lost = await runToExit(["status"], { env: { START_SERVER_CONTROL_SOCKET: undefined } })
    expect(lost.code).toBe(2)
    expect(lost.stderr).toMatch(/^status: which start_server\? Give --control-socket=PATH/)
    const fromEnv = await runToExit(["status"], { env: { START_SERVER_CONTROL_SOCKET: "/nonexistent/c.sock" } })
    expect(fromEnv).toMatchObject({
      code: 3,
      stderr: "start_server is not running (no control socket at /nonexistent/c.sock)"
    })
    const badScale = await runToExit(["scale", "zero", "--control-socket=/nonexistent/c.sock"])
    expect(badScale.code).toBe(2)
  })
})

describe("options checked before anything starts", () => {
  for (const bad of ["--ready=bogus", "--workers=0", "--max-surge=0", "--path-mode=999", "--signal-on-hup=FOO"]) {
    it(`${bad}: one line, exit 255, no file opened, not even "starting now"`, async () => {
      const dir = tempDir()
      const port = await freePort()
      const result = await runToExit([
        `--port=127.0.0.1:${port}`,
        `--pid-file=${dir}/pid`,
        `--log-file=${dir}/log`,
        `--status-file=${dir}/status`,
        bad,
        "--",
        "sleep",
        "5"
      ])
      expect(result.code).toBe(255)
      expect(result.stderr.split("\n")).toHaveLength(1)
      expect(fs.readdirSync(dir)).toEqual([])
    })
  }

  it("an unknown option keeps Getopt::Long's line and suggests the closest one", async () => {
    const result = await runToExit(["--prot=8080", "--wokers=2", "--", "true"])
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(
      "Unknown option: prot (did you mean --port?)\nUnknown option: wokers (did you mean --workers?)"
    )
  })

  it("no --port or --path: one warning, once the supervisor runs", async () => {
    const server = track(startServer(["--interval=1", "--", "sleep", "30"]))
    await server.waitForLine(/^starting new worker \d+$/)
    await waitFor("the warning", () => server.lines().some((l) => l.startsWith("no --port or --path")))
    server.kill("SIGTERM")
    await server.exited
    expect(server.lines().filter((l) => l.startsWith("no --port or --path"))).toEqual([
      "no --port or --path: the server program gets no listening socket (SERVER_STARTER_PORT is empty)"
    ])
  })
})
