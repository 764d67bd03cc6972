/**
 * Fail fast and loud (issue 19): what Perl's start_server retries for ever, silently, ours
 * refuses or reports in one line with a documented exit code (docs/compatibility.md,
 * "Failing fast"): a mistyped command, a program that cannot be executed, a daemon that
 * cannot start, a failed start's reason in words, and an app that listens by itself.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { clientCommandNames } from "../src/CommandNames.js"
import {
  fixtures,
  freePort,
  get,
  isRunning,
  nodeExecutable,
  readIfExists,
  runToExit,
  sleep,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const worker = path.join(fixtures, "http-worker.mjs")
const track = trackSupervisors()

/** stderr without Perl's first line (`start_server (pid:N) starting now...`). */
const ownLines = (stderr: string) =>
  stderr.split("\n").filter((l) => l !== "" && !/^start_server \(pid:\d+\) starting now\.\.\.$/.test(l))

/** The files a supervisor leaves behind, if any. */
const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => !f.endsWith(".sh") && f !== "log")

describe("a mistyped command", () => {
  it.each([
    [["stauts", "--pid-file=PID"], 'unknown command "stauts" (did you mean "status"?)'],
    [["--port=127.0.0.1:0", "--pid-file=PID", "--", "stpo"], 'unknown command "stpo" (did you mean "stop"?)'],
    [["--pid-file=PID", "evnets"], 'unknown command "evnets" (did you mean "events"?)'],
    [
      ["--port=127.0.0.1:0", "--pid-file=PID", "status"],
      'unknown command "status" after the options (a command comes first: start_server status …)'
    ]
  ])("%j: one line, exit 1, nothing started", async (args, line) => {
    const dir = tempDir()
    const result = await runToExit(args.map((a) => a.replace("PID", path.join(dir, "pid"))))
    expect(result).toMatchObject({ code: 1, stderr: line })
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it("a program on PATH with such a name runs: the PATH is looked up", async () => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "stauts"), "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 })
    const server = track(startServer(["--port=127.0.0.1:0", "stauts"], { env: { PATH: `${dir}:${process.env.PATH}` } }))
    await server.waitForLine(/^starting new worker \d+$/)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })
})

describe("a program that cannot be executed, at the first start", () => {
  it.each([
    ["missing", "nodee", 127, "failed to exec nodee:No such file or directory"],
    ["not executable", "NOEXEC", 126, "failed to exec NOEXEC:Permission denied"]
  ])("%s (%s): one line, exit %d, nothing left behind", async (_, program, code, perlLine) => {
    const dir = tempDir()
    const noexec = path.join(dir, "app.sh")
    fs.writeFileSync(noexec, "#!/bin/sh\nexec sleep 30\n", { mode: 0o644 })
    const args = [
      `--port=127.0.0.1:${await freePort()}`,
      `--path=${dir}/app.sock`,
      `--pid-file=${dir}/pid`,
      `--status-file=${dir}/status`,
      `--json-status-file=${dir}/status.json`,
      `--control-socket=${dir}/c.sock`,
      "--workers=3",
      "--",
      program.replace("NOEXEC", noexec),
      "app.mjs"
    ]
    const result = await runToExit(args)
    expect(result.code).toBe(code)
    expect(ownLines(result.stderr)).toEqual([
      `${perlLine.replace("NOEXEC", noexec)} (not retrying: no worker has started yet)`
    ])
    expect(leftovers(dir)).toEqual([])
  })

  it.each([
    ["--listen-fds (a shell sets LISTEN_PID)", ["--listen-fds"], {}],
    ["an environment value that is not UTF-8 (a shell rebuilds it)", ["--envdir=ENVDIR"], {}]
  ])("with %s in front of the program too", async (_, options) => {
    const dir = tempDir()
    fs.mkdirSync(`${dir}/env`)
    fs.writeFileSync(`${dir}/env/GREETING`, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]))
    const args = options.map((o) => o.replace("ENVDIR", `${dir}/env`))
    const result = await runToExit(["--port=127.0.0.1:0", ...args, "--", "nodee", "app.mjs"])
    expect(result.code).toBe(127)
    expect(ownLines(result.stderr)).toEqual([
      "failed to exec nodee:No such file or directory (not retrying: no worker has started yet)"
    ])
  })

  it("with a readiness channel too", async () => {
    const result = await runToExit(["--port=127.0.0.1:0", "--ready=notify-fd", "--", "nodee"])
    expect(result.code).toBe(127)
    expect(ownLines(result.stderr)).toEqual([
      "failed to exec nodee:No such file or directory (not retrying: no worker has started yet)"
    ])
  })
})

/** A deployed app: a script that runs the test worker, which a deploy can remove. */
const deployedApp = async () => {
  const dir = tempDir()
  const port = await freePort()
  const script = path.join(dir, "app.sh")
  fs.writeFileSync(script, `#!/bin/sh\nexec ${nodeExecutable} ${worker}\n`, { mode: 0o755 })
  const control = path.join(dir, "c.sock")
  const server = track(
    startServer([
      `--port=127.0.0.1:${port}`,
      `--status-file=${dir}/status`,
      `--control-socket=${control}`,
      "--",
      script
    ])
  )
  await waitFor("generation 1", () => (/^1:\d+\n$/.test(readIfExists(`${dir}/status`) ?? "") ? true : undefined))
  const cmd = (...args: ReadonlyArray<string>) => runToExit([...args, `--control-socket=${control}`])
  return { dir, port, script, server, cmd }
}

describe("a program that cannot be executed, after the first start (a deploy removed it)", () => {
  it("a restart fails at once with the reason (reply, status, events); the old generation keeps serving", async () => {
    const app = await deployedApp()
    const events = track(startServer(["events", "--json", `--control-socket=${app.dir}/c.sock`]))
    await sleep(300)
    fs.rmSync(app.script)
    const restarted = await app.cmd("restart")
    expect(restarted).toMatchObject({
      code: 10,
      stderr: `restart failed: exec failed: ${app.script}: No such file or directory`
    })
    expect(await get(app.port)).toMatch(/^hello from generation 1,/)
    const line = await app.server.waitForLine(/^giving up the restart/)
    expect(line).toMatch(
      new RegExp(
        `^giving up the restart: exec failed: ${app.script}: No such file or directory; old workers keep serving:\\d+$`
      )
    )
    const status = await app.cmd("status")
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(
      new RegExp(
        `\nlast restart \\(control\\): FAILED \\d+s ago, given up after 1 failed start: exec failed: ${app.script}: No such file or directory; generation 1 keeps serving\n`
      )
    )
    const json = JSON.parse((await app.cmd("status", "--json")).stdout) as { lastRestart: { lastFailure: string } }
    expect(json.lastRestart.lastFailure).toBe(`exec failed: ${app.script}: No such file or directory`)
    await waitFor("the events", () => (events.stdout().includes("RolloutAbandoned") ? true : undefined))
    const abandoned = events
      .stdout()
      .split("\n")
      .filter((l) => l.includes("RolloutAbandoned"))
      .map((l) => JSON.parse(l) as { failure: { reason: string; unexecutable: string } })
    expect(abandoned[0]!.failure).toMatchObject({
      reason: `exec failed: ${app.script}: No such file or directory`,
      unexecutable: "not-found"
    })
    // The file is back: the next restart works.
    fs.writeFileSync(app.script, `#!/bin/sh\nexec ${nodeExecutable} ${worker}\n`, { mode: 0o755 })
    expect((await app.cmd("restart")).code).toBe(0)
    expect(await get(app.port)).toMatch(/^hello from generation 3,/)
  })

  it("on HUP the same: one reason, no retry, generation 1 serves on", async () => {
    const app = await deployedApp()
    fs.chmodSync(app.script, 0o644)
    app.server.kill("SIGHUP")
    await app.server.waitForLine(
      /^giving up the restart: exec failed: .*: Permission denied; old workers keep serving:\d+$/
    )
    await sleep(1500)
    expect(app.server.lines().filter((l) => l.startsWith("failed to exec"))).toEqual([
      `failed to exec ${app.script}:Permission denied`
    ])
    expect(await get(app.port)).toMatch(/^hello from generation 1,/)
  })
})

describe("status names a failing start's reason in words", () => {
  it("in progress: exited with code 1 before it was ready", async () => {
    const dir = tempDir()
    const server = track(startServer([`--control-socket=${dir}/c.sock`, "--", "sh", "-c", "exit 1"]))
    await server.waitForLine(/seems to have failed to start, exit status:256$/)
    const status = await runToExit(["status", `--control-socket=${dir}/c.sock`])
    expect(status.code).toBe(1)
    expect(status.stdout).toMatch(
      /\nlast start: in progress since \d+s ago, \d+ failed starts? \(last: exited with code 1 before it was ready\)\n/
    )
  })
})

describe("--daemonize", () => {
  const daemons = new Set<number>()
  afterEach(async () => {
    for (const pid of daemons) if (isRunning(pid)) process.kill(pid, "SIGTERM")
    await waitFor("the daemons to stop", () => ([...daemons].some(isRunning) ? undefined : true))
    daemons.clear()
  })
  const daemonOf = (pidFile: string) => {
    const pid = Number(readIfExists(pidFile))
    if (pid > 0) daemons.add(pid)
    return pid
  }

  it("exits 0 only once the first generation serves", async () => {
    const dir = tempDir()
    const port = await freePort()
    const result = await runToExit([
      "--daemonize",
      `--log-file=${dir}/log`,
      `--pid-file=${dir}/pid`,
      `--status-file=${dir}/status`,
      `--port=127.0.0.1:${port}`,
      "--",
      nodeExecutable,
      worker
    ])
    daemonOf(`${dir}/pid`)
    expect(result.code).toBe(0)
    // At the foreground's exit, not later: the status file lists the worker, which answers.
    expect(readIfExists(`${dir}/status`)).toMatch(/^1:\d+\n$/)
    expect(await get(port)).toMatch(/^hello from generation 1,/)
  })

  it("a program that cannot be executed: its one line on the terminal, exit 127, no daemon left", async () => {
    const dir = tempDir()
    const result = await runToExit([
      "--daemonize",
      `--log-file=${dir}/log`,
      `--pid-file=${dir}/pid`,
      "--port=127.0.0.1:0",
      "--",
      "nodee"
    ])
    expect(result.code).toBe(127)
    expect(ownLines(result.stderr)).toEqual([
      "failed to exec nodee:No such file or directory (not retrying: no worker has started yet)"
    ])
    expect(leftovers(dir)).toEqual([])
  })

  it("a first worker that fails: exit 1 with its reason; the daemon keeps retrying, as Perl's would", async () => {
    const dir = tempDir()
    const result = await runToExit([
      "--daemonize",
      `--log-file=${dir}/log`,
      `--pid-file=${dir}/pid`,
      "--port=127.0.0.1:0",
      "--",
      "sh",
      "-c",
      "exit 1"
    ])
    const daemon = daemonOf(`${dir}/pid`)
    expect(result.code).toBe(1)
    expect(ownLines(result.stderr)).toEqual([
      `the first worker failed to start: exited with code 1 before it was ready; start_server (pid:${daemon}) keeps retrying, see its --log-file`
    ])
    expect(isRunning(daemon)).toBe(true)
  })
})

describe("an app that calls listen() itself (EADDRINUSE: start_server holds the port)", () => {
  const app = (port: number, handler: string) =>
    `require("http").createServer()${handler}.listen(${port}, "127.0.0.1", () => console.log("listening on ${port}"))`
  const hint = (port: number, evidence: string) =>
    new RegExp(
      `^worker \\d+ exited with status:(0|256) [\\d.]+ s after it started, ${evidence}its own listen\\(\\) on 127\\.0\\.0\\.1:${port} failed with EADDRINUSE, as start_server holds it; start it as \`node --import @starter/worker/register app\\.js\` to listen on the inherited socket \\(or have it read SERVER_STARTER_PORT\\)$`
    )
  const attempts = (server: ReturnType<typeof startServer>, n: number) =>
    waitFor(`${n} attempts`, () =>
      server.lines().filter((l) => l.startsWith("starting new worker")).length >= n ? true : undefined
    )
  const hints = (server: ReturnType<typeof startServer>) =>
    server.lines().filter((l) => l.includes("EADDRINUSE, as start_server holds it"))

  it("its callback takes the error and it exits 0: after two such exits, the likely cause and the loader, once", async () => {
    const port = await freePort()
    const program = [nodeExecutable, "-e", app(port, '.once("error", () => {})')]
    const server = track(startServer([`--port=127.0.0.1:${port}`, "--interval=0", "--", ...program]))
    expect(await server.waitForLine(/EADDRINUSE, as start_server holds it/, 15_000)).toMatch(
      hint(port, "as did the one before: likely ")
    )
    await attempts(server, 5)
    expect(hints(server).length).toBe(1)
  })

  it("it throws (exit 1), its output read (a control socket): the cause at the first exit", async () => {
    const port = await freePort()
    const dir = tempDir()
    const program = [nodeExecutable, "-e", app(port, "")]
    const server = track(
      startServer([`--port=127.0.0.1:${port}`, `--control-socket=${dir}/c.sock`, "--interval=0", "--", ...program])
    )
    const line = await server.waitForLine(/EADDRINUSE, as start_server holds it/, 15_000)
    expect(line).toMatch(hint(port, "saying EADDRINUSE: "))
    const first = server.lines().find((l) => /^starting new worker \d+$/.test(l))
    expect(line.startsWith(`worker ${first?.split(" ").at(-1)} `)).toBe(true)
  })

  it.each([
    ["a crash at start (exit 1) whose output says nothing of it", ["--control-socket=DIR/c.sock"], "exit 1"],
    ["a thrown EADDRINUSE whose output start_server does not read (Node's own line says it)", [], "THROW"],
    ["no port or path to collide with", ["NOPORT"], "exit 0"]
  ])("no such line for %s", async (_, options, script) => {
    const port = await freePort()
    const dir = tempDir()
    const ports = options.includes("NOPORT") ? [] : [`--port=127.0.0.1:${port}`]
    const program = script === "THROW" ? [nodeExecutable, "-e", app(port, "")] : ["sh", "-c", `echo failing; ${script}`]
    const server = track(
      startServer([
        ...ports,
        ...options.filter((o) => o !== "NOPORT").map((o) => o.replace("DIR", dir)),
        "--interval=0",
        "--",
        ...program
      ])
    )
    await attempts(server, 4)
    expect(hints(server)).toEqual([])
  })
})

describe("--help", () => {
  it("lists every command", async () => {
    const { code, stdout } = await runToExit(["--help"])
    expect(code).toBe(0)
    for (const name of clientCommandNames) expect(stdout).toMatch(new RegExp(`^  start_server ${name}\\b`, "m"))
  })
})
