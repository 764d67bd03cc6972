/**
 * `start_server upgrade`: the supervisor replaced by a new process (a second build of the
 * binary that prints another --version) under continuous load, and every way the new one
 * can fail, after which the old one must serve on as if nothing happened.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { beforeAll, describe, expect, it, onTestFinished } from "vitest"
import {
  commandFor,
  fixtures,
  freePort,
  generationsIn,
  get,
  isRunning,
  nodeExecutable,
  readIfExists,
  repoRoot,
  runToExit,
  runtime,
  startServer,
  startServerBin,
  startServerJs,
  statusLines,
  tempDir,
  trackPids,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { startLoad } from "./support/Load.js"

const track = trackSupervisors()

const nextVersion = "9.9.9-upgrade-test"
let nextBinary = ""

/** The second build: the same sources, another version string. */
beforeAll(() => {
  const out = path.join(tempDir(), "next")
  execFileSync(nodeExecutable, [path.join(repoRoot, "packages/cli/scripts/bundle.mjs")], {
    env: { ...process.env, STARTER_VERSION: nextVersion, STARTER_BUNDLE_OUTDIR: out },
    stdio: "inherit"
  })
  // koffi (external to the bundle) resolves from here, as it does beside the real bundle.
  fs.symlinkSync(path.join(repoRoot, "packages/cli/node_modules"), path.join(out, "node_modules"))
  nextBinary = path.join(out, "bin.js")
}, 60_000)

/** New supervisors are nobody's child here: each test stops the ones it made. */
const successors = trackPids()

const startService = async (extra: ReadonlyArray<string> = [], env: Record<string, string> = {}) => {
  const dir = tempDir()
  const port = await freePort()
  const files = {
    pid: path.join(dir, "start_server.pid"),
    status: path.join(dir, "status"),
    control: path.join(dir, "start_server.sock"),
    json: path.join(dir, "status.json"),
    brokenMarker: path.join(dir, "broken"),
    notReadyMarker: path.join(dir, "not-ready"),
    holdMarker: path.join(dir, "hold")
  }
  const server = track(
    startServer(
      [
        `--port=127.0.0.1:${port}`,
        `--pid-file=${files.pid}`,
        `--status-file=${files.status}`,
        `--control-socket=${files.control}`,
        `--json-status-file=${files.json}`,
        "--workers=2",
        "--ready=notify-fd",
        "--ready-timeout=3",
        ...extra,
        "--",
        nodeExecutable,
        path.join(fixtures, "upgrade-worker.mjs")
      ],
      {
        env: {
          BROKEN_MARKER: files.brokenMarker,
          NOT_READY_MARKER: files.notReadyMarker,
          HOLD_MARKER: files.holdMarker,
          ...env
        }
      }
    )
  )
  await waitFor("2 workers of generation 1", () =>
    statusLines(files.status).length === 2 && generationsIn(files.status).has(1) ? true : undefined
  )
  return { dir, port, files, server }
}

const upgrade = (control: string, ...args: ReadonlyArray<string>) =>
  runToExit(["upgrade", `--control-socket=${control}`, ...args])

const statusJson = async (control: string) => {
  const result = await runToExit(["status", `--control-socket=${control}`, "--json"])
  return JSON.parse(result.stdout) as {
    supervisor?: { pid: number; version?: string }
    generation: number
    servingGeneration: number
  }
}

/** Waits until the load has answered `more` requests beyond what it had. */
const moreRequests = (load: ReturnType<typeof startLoad>, more: number) => {
  const target = load.ok() + more
  return waitFor(`${more} more requests`, () => (load.ok() >= target ? true : undefined), 20_000)
}

const jsonState = (file: string) => (JSON.parse(readIfExists(file) ?? "{}") as { state?: string }).state

const cmdline = (pid: number) => (readIfExists(`/proc/${pid}/cmdline`) ?? "").split("\0").join(" ")

/** Processes whose command line mentions `text` (the pid file a supervisor was started with). */
const processesRunning = (text: string) =>
  fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name) && isRunning(Number(name)) && cmdline(Number(name)).includes(text))

describe("start_server upgrade", () => {
  it("hands over to a second build under load: nothing refused or reset, every file names the new supervisor; HUP and --stop work after", async () => {
    const { port, files, server } = await startService()
    const before = { control: fs.statSync(files.control).ino }
    const load = startLoad(port)
    await moreRequests(load, 50)

    const result = await upgrade(files.control, `--binary=${nextBinary}`)
    const pid = Number(readIfExists(files.pid))
    successors.add(pid)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(
      `upgrade: start_server ${nextVersion} (pid ${pid}) serves generation 2; start_server (pid ${server.pid}) has exited\n`
    )
    await moreRequests(load, 50)
    const { failed, reset, answeredBy } = await load.stop()
    expect(failed).toEqual([])
    expect(reset).toBe(0)
    expect([...answeredBy].some((l) => l.startsWith("hello from generation 1"))).toBe(true)
    expect([...answeredBy].some((l) => l.startsWith("hello from generation 2"))).toBe(true)

    // The old supervisor is gone, after its workers; the new one is the second build.
    expect((await server.exited).code).toBe(0)
    expect(pid).not.toBe(server.pid)
    expect(cmdline(pid)).toContain(nextBinary)
    expect(server.lines()).toContain(`start_server (pid:${pid}) version ${nextVersion} took over, serving generation 2`)
    // Pid file, status files, control socket: the new supervisor's.
    expect(generationsIn(files.status)).toEqual(new Set([2]))
    // The same socket under Node; Bun, which cannot accept on a socket it did not bind, moved a
    // socket of the new supervisor's over the path.
    if (runtime === "node") expect(fs.statSync(files.control).ino).toBe(before.control)
    const status = await statusJson(files.control)
    expect(status.supervisor).toEqual({ pid, version: nextVersion })
    expect(status.servingGeneration).toBe(2)
    expect(JSON.parse(readIfExists(files.json) ?? "{}").supervisor?.pid).toBe(pid)
    expect(await get(port)).toMatch(/^hello from generation 2/)

    // A HUP restarts as usual, the generations going on.
    process.kill(pid, "SIGHUP")
    await waitFor("generation 3 alone", () =>
      statusLines(files.status).length === 2 &&
      generationsIn(files.status).has(3) &&
      generationsIn(files.status).size === 1
        ? true
        : undefined
    )
    // --stop stops everything and removes what the new supervisor owns.
    const stop = await runToExit(["--stop", `--pid-file=${files.pid}`])
    expect(stop.code).toBe(0)
    expect(isRunning(pid)).toBe(false)
    for (const file of [files.pid, files.status, files.control, files.json]) expect(fs.existsSync(file)).toBe(false)
  }, 90_000)

  it("SIGUSR2 upgrades to the program the supervisor was started from; the outcome is in its log", async () => {
    const { files, server, port } = await startService()
    server.kill("SIGUSR2")
    const pid = await waitFor("a new pid in the pid file", () => {
      const now = Number(readIfExists(files.pid))
      return now > 0 && now !== server.pid ? now : undefined
    })
    successors.add(pid)
    expect((await server.exited).code).toBe(0)
    expect(server.lines()).toContain(`start_server (pid:${pid}) version 0.1.0 took over, serving generation 2`)
    expect(cmdline(pid)).toContain("start_server")
    // On the runtime the old one ran on (the program's #! line names node: not that).
    const runtimeExecutable = runtime === "bun" ? commandFor(startServerBin, [])[0] : nodeExecutable
    expect(fs.realpathSync(`/proc/${pid}/exe`)).toBe(fs.realpathSync(runtimeExecutable))
    expect(await get(port)).toMatch(/^hello from generation 2/)
  }, 60_000)

  it("twice in a row: the second starts the new supervisor's own program again", async () => {
    const { files, server, port } = await startService()
    const first = await upgrade(files.control, `--binary=${nextBinary}`)
    const firstPid = Number(readIfExists(files.pid))
    successors.add(firstPid)
    expect(first).toMatchObject({ code: 0, stderr: "" })
    const second = await upgrade(files.control)
    const secondPid = Number(readIfExists(files.pid))
    successors.add(secondPid)
    expect(second).toMatchObject({ code: 0, stderr: "" })
    expect(second.stdout).toMatch(
      new RegExp(`\\(pid ${secondPid}\\) serves generation 3; start_server \\(pid ${firstPid}\\) has exited`)
    )
    expect(new Set([server.pid, firstPid, secondPid]).size).toBe(3)
    expect(cmdline(secondPid)).toContain(nextBinary)
    expect(isRunning(firstPid)).toBe(false)
    expect(generationsIn(files.status)).toEqual(new Set([3]))
    expect(await get(port)).toMatch(/^hello from generation 3/)
  }, 90_000)

  it("a HUP while the new supervisor is on its way is held, and then goes to the new supervisor", async () => {
    const { files, server, port } = await startService()
    // The new supervisor's workers wait to be ready until the marker goes.
    fs.writeFileSync(files.holdMarker, "")
    const upgrading = upgrade(files.control, `--binary=${nextBinary}`)
    const started = await server.waitForLine(/^started the new supervisor \(pid:(\d+)\)/)
    const pid = Number(/\(pid:(\d+)\)/.exec(started)?.[1])
    successors.add(pid)
    server.kill("SIGHUP")
    await server.waitForLine(/^restart \(hup\) held until the upgrade in progress ends$/)
    // The old supervisor started nothing: generation 2 is the new one's.
    expect(generationsIn(files.status)).toEqual(new Set([1]))
    fs.rmSync(files.holdMarker)
    const result = await upgrading
    expect(result).toMatchObject({ code: 0, stderr: "" })
    expect((await server.exited).code).toBe(0)
    expect(server.lines()).toContain(`passing the restart (hup) on to start_server (pid:${pid}), which serves now`)
    // The new supervisor restarts: its generation 2, then 3.
    await waitFor("generation 3 alone", () =>
      statusLines(files.status).length === 2 &&
      generationsIn(files.status).has(3) &&
      generationsIn(files.status).size === 1
        ? true
        : undefined
    )
    expect(await get(port)).toMatch(/^hello from generation 3/)
  }, 90_000)

  it("during a rollout it is refused (exit 11) and changes nothing; once the rollout is over it goes ahead", async () => {
    const { files, server } = await startService()
    fs.writeFileSync(files.notReadyMarker, "")
    server.kill("SIGHUP")
    await waitFor("the rollout to start", () => (jsonState(files.json) === "restarting" ? true : undefined))
    const refused = await upgrade(files.control, `--binary=${nextBinary}`)
    expect(refused.code).toBe(11)
    expect(refused.stderr).toMatch(
      /^upgrade refused: a rollout is in progress \(epoch 2\); upgrade once it has completed$/
    )
    expect(readIfExists(files.pid)).toBe(`${server.pid}\n`)
    // The rollout gives up (--ready-timeout) or completes; either way the upgrade may go ahead.
    fs.rmSync(files.notReadyMarker)
    await waitFor("the rollout to end", () => (jsonState(files.json) === "serving" ? true : undefined), 30_000)
    const done = await upgrade(files.control, `--binary=${nextBinary}`)
    successors.add(Number(readIfExists(files.pid)))
    expect(done.code).toBe(0)
  }, 90_000)
})

describe("start_server upgrade that fails: the old supervisor serves on, its files untouched", () => {
  /** `marker`: the file that breaks the workers started from now on, removed after the upgrade. */
  const failing = async (args: ReadonlyArray<string>, reason: RegExp, marker?: "brokenMarker" | "notReadyMarker") => {
    const { port, files, server } = await startService()
    if (marker !== undefined) fs.writeFileSync(files[marker], "")
    const before = {
      pid: readIfExists(files.pid),
      status: readIfExists(files.status),
      control: fs.statSync(files.control).ino
    }
    const load = startLoad(port)
    await moreRequests(load, 20)
    const result = await upgrade(files.control, ...args)
    await moreRequests(load, 20)
    const { failed, reset } = await load.stop()
    if (marker !== undefined) fs.rmSync(files[marker])
    expect(result.code).toBe(10)
    expect(result.stderr).toMatch(reason)
    expect(failed).toEqual([])
    expect(reset).toBe(0)
    expect(readIfExists(files.pid)).toBe(before.pid)
    expect(readIfExists(files.status)).toBe(before.status)
    expect(fs.statSync(files.control).ino).toBe(before.control)
    expect((await statusJson(files.control)).supervisor?.pid).toBe(server.pid)
    expect(server.child.exitCode).toBe(null)
    expect(server.lines().some((l) => l.startsWith("upgrade failed: "))).toBe(true)
    // Nothing of the attempt is left: the only process started with this pid file is the old one.
    expect(processesRunning(files.pid).filter((pid) => Number(pid) !== server.pid)).toEqual([])
    // It still restarts, and still stops.
    server.kill("SIGHUP")
    await waitFor("a restart after the failed upgrade", () =>
      statusLines(files.status).length === 2 && !generationsIn(files.status).has(1) ? true : undefined
    )
  }

  it("the binary is missing", async () => {
    await failing(
      ["--binary=/nonexistent/start_server.js"],
      /^upgrade failed: cannot start \/nonexistent\/start_server.js: No such file or directory; the old supervisor keeps serving$/
    )
  }, 60_000)

  it("it exits at once", async () => {
    await failing(
      [`--binary=${path.join(fixtures, "exiting-supervisor.mjs")}`],
      /^upgrade failed: the new supervisor exited with status 3 before it was ready; the old supervisor keeps serving$/
    )
  }, 60_000)

  it("it exits at once without a word (/bin/true): noticed at its exit, not at --timeout", async () => {
    await failing(
      ["--binary=/bin/true", "--timeout=600"],
      /^upgrade failed: the new supervisor exited with status 0 before it was ready; the old supervisor keeps serving$/
    )
  }, 60_000)

  it("it writes garbage to every inherited descriptor, then exits: the pid file is intact", async () => {
    await failing(
      [`--binary=${path.join(fixtures, "garbage-supervisor.mjs")}`],
      /^upgrade failed: (unexpected report from the new supervisor: "GARBAGE-4"|the new supervisor exited with status 1 before it was ready); the old supervisor keeps serving$/
    )
  }, 60_000)

  it("it hangs before it is ready (--timeout), and is stopped", async () => {
    await failing(
      [`--binary=${path.join(fixtures, "hanging-supervisor.mjs")}`, "--timeout=2"],
      /^upgrade failed: the new supervisor \(pid \d+\) was not ready within 2 s; the old supervisor keeps serving$/
    )
  }, 60_000)

  it("its workers never become ready within --ready-timeout", async () => {
    await failing(
      [`--binary=${nextBinary}`],
      /^upgrade failed: the new supervisor failed: its worker failed to start: not ready within 3s.*; the old supervisor keeps serving$/,
      "notReadyMarker"
    )
  }, 60_000)

  it("its workers fail to start", async () => {
    await failing(
      [`--binary=${nextBinary}`],
      /^upgrade failed: the new supervisor failed: its worker failed to start: exited with code 3 before it was ready; the old supervisor keeps serving$/,
      "brokenMarker"
    )
  }, 60_000)
})

/** The pids whose parent is `pid`. */
const childrenOf = (pid: number) =>
  fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((child) => {
      const stat = readIfExists(`/proc/${child}/stat`) ?? ""
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid
    })

/** Whether something listens on the port: a listener of our own binds it, or cannot. */
const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)))
  })

describe("an upgrade whose new supervisor is killed: every process it started is gone", () => {
  it("its worker (a plain one, watching nothing) is stopped; stop then frees the port", async () => {
    const dir = tempDir()
    const port = await freePort()
    const files = { status: path.join(dir, "status"), control: path.join(dir, "c.sock") }
    // The worker's argument names the directory: every process of this test can be found by it.
    onTestFinished(() => {
      for (const pid of processesRunning(dir)) process.kill(Number(pid), "SIGKILL")
    })
    const server = track(
      startServer([
        `--port=127.0.0.1:${port}`,
        `--status-file=${files.status}`,
        `--control-socket=${files.control}`,
        // The new supervisor's generation waits this long before it counts as ready.
        "--interval=4",
        "--",
        nodeExecutable,
        path.join(fixtures, "unwatching-worker.mjs"),
        dir
      ])
    )
    await waitFor("generation 1", () => (generationsIn(files.status).has(1) ? true : undefined))
    const upgrading = upgrade(files.control)
    const started = await server.waitForLine(/^started the new supervisor \(pid:(\d+)\)/)
    const successor = Number(/\(pid:(\d+)\)/.exec(started)?.[1])
    successors.add(successor)
    const [orphan] = await waitFor("the new supervisor's worker", () => {
      const children = childrenOf(successor)
      return children.length > 0 ? children : undefined
    })
    process.kill(successor, "SIGKILL")
    const result = await upgrading
    expect(result.code).toBe(10)
    expect(result.stderr).toMatch(/^upgrade failed: the new supervisor was killed by SIGKILL before it was ready;/)
    expect(isRunning(orphan ?? 0)).toBe(false)
    expect(server.lines()).toContain(`stopping what the failed new supervisor left running: pid ${orphan}`)
    // The old generation serves on, alone.
    expect(await get(port)).toMatch(/^gen=1 /)
    expect(generationsIn(files.status)).toEqual(new Set([1]))
    const stop = await runToExit(["stop", `--control-socket=${files.control}`])
    expect(stop.code).toBe(0)
    await server.exited
    expect(processesRunning(dir)).toEqual([])
    expect(await portIsFree(port)).toBe(true)
  }, 60_000)
})

/**
 * A `--binary` that plants a regular file at each of `names` (`$$`: its own pid, which the
 * start_server it then execs keeps), beside the control socket.
 */
const planting = (dir: string, control: string, names: ReadonlyArray<string>) => {
  const [runner, runnerArgs] = commandFor(startServerBin, [])
  const start = runtime === "bun" ? [runner, ...runnerArgs] : [nodeExecutable, startServerJs]
  const script = path.join(dir, "planting.sh")
  fs.writeFileSync(
    script,
    `#!/bin/sh\n${names.map((name) => `echo planted > "${control}.${name}"\n`).join("")}exec ${start.map((a) => `"${a}"`).join(" ")} "$@"\n`,
    { mode: 0o755 }
  )
  return script
}

describe("upgrade: a file where the new supervisor would bind its control socket", () => {
  it("is left alone: another name is taken, and the new supervisor answers on the control socket", async () => {
    const { dir, files, server } = await startService()
    const result = await upgrade(files.control, `--binary=${planting(dir, files.control, ["$$"])}`)
    const pid = Number(readIfExists(files.pid))
    successors.add(pid)
    expect(result).toMatchObject({ code: 0, stderr: "" })
    expect(pid).not.toBe(server.pid)
    expect((await statusJson(files.control)).supervisor?.pid).toBe(pid)
    expect(readIfExists(`${files.control}.${pid}`)).toBe("planted\n")
  }, 60_000)

  it("with no free name, fails the upgrade, saying why; the old supervisor keeps its control socket", async (context) => {
    context.skip(runtime === "node", "Node accepts on the inherited socket: it binds nothing beside the path")
    const { dir, files, server } = await startService()
    const names = ["$$", ...Array.from({ length: 9 }, (_, i) => `$$.${i + 1}`)]
    const result = await upgrade(files.control, `--binary=${planting(dir, files.control, names)}`)
    expect(result.code).toBe(10)
    expect(result.stderr).toMatch(
      /^upgrade failed: the new supervisor failed: cannot take the control socket over: no free name beside .*; the old supervisor keeps serving$/
    )
    expect(readIfExists(files.pid)).toBe(`${server.pid}\n`)
    expect((await statusJson(files.control)).supervisor?.pid).toBe(server.pid)
    expect(processesRunning(files.pid).filter((pid) => Number(pid) !== server.pid)).toEqual([])
  }, 60_000)
})

/** A control connection kept open: each `ask` sends one request line and answers the reply line. */
const openControl = async (control: string) => {
  const socket = net.connect(control)
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve)
    socket.once("error", reject)
  })
  onTestFinished(() => void socket.destroy())
  let buffer = ""
  const waiting: Array<(line: string) => void> = []
  socket.setEncoding("utf8")
  socket.on("data", (chunk: string) => {
    buffer += chunk
    for (let i = buffer.indexOf("\n"); i !== -1; i = buffer.indexOf("\n")) {
      waiting.shift()?.(buffer.slice(0, i))
      buffer = buffer.slice(i + 1)
    }
  })
  return {
    ask: (body: Record<string, unknown>) =>
      new Promise<Record<string, unknown>>((resolve) => {
        waiting.push((line) => resolve(JSON.parse(line) as Record<string, unknown>))
        socket.write(`${JSON.stringify({ v: 1, id: 1, ...body })}\n`)
      })
  }
}

describe("control commands around an upgrade: carried out, or refused saying so", () => {
  it("a connection opened before the handover is refused after it, naming the new supervisor; clients ask that one", async () => {
    const { files, server, port } = await startService(["--kill-old-delay=5"])
    const old = await openControl(files.control)
    expect(await old.ask({ cmd: "status" })).toMatchObject({ ok: true })
    const upgrading = upgrade(files.control, `--binary=${nextBinary}`)
    const pid = await waitFor("the new supervisor in charge", () => {
      const now = Number(readIfExists(files.pid))
      return now > 0 && now !== server.pid ? now : undefined
    })
    successors.add(pid)
    await server.waitForLine(/^sleeping 5 secs before killing old workers$/)
    const refusal = {
      ok: false,
      error: `start_server (pid:${server.pid}) has handed over to start_server (pid:${pid}), which serves now`,
      handedOverTo: pid
    }
    // The retiring supervisor claims nothing: not a stale status, a scale or a stop it would not carry out.
    expect(await old.ask({ cmd: "status" })).toMatchObject(refusal)
    expect(await old.ask({ cmd: "scale", workers: 5 })).toMatchObject(refusal)
    expect(await old.ask({ cmd: "stop", wait: true })).toMatchObject(refusal)
    expect(await get(port)).toMatch(/^hello from generation [12]/)
    // A client asks the new supervisor, and what it says is what happens.
    const scale = await runToExit(["scale", "3", `--control-socket=${files.control}`])
    expect(scale.code).toBe(0)
    await waitFor(
      "3 workers of the new supervisor",
      () => (statusLines(files.status).length === 3 && !generationsIn(files.status).has(1) ? true : undefined),
      20_000
    )
    expect((await statusJson(files.control)).supervisor?.pid).toBe(pid)
    expect((await upgrading).code).toBe(0)
  }, 90_000)

  it("scale while an upgrade is in progress is refused, saying why; the new supervisor runs as many as before", async () => {
    const { files, server } = await startService()
    fs.writeFileSync(files.holdMarker, "")
    onTestFinished(() => fs.rmSync(files.holdMarker, { force: true }))
    const upgrading = upgrade(files.control, `--binary=${nextBinary}`)
    await server.waitForLine(/^started the new supervisor \(pid:(\d+)\)/)
    const scale = await runToExit(["scale", "4", `--control-socket=${files.control}`])
    expect(scale.code).toBe(1)
    expect(scale.stderr).toBe("an upgrade is in progress; scale once it has completed")
    fs.rmSync(files.holdMarker)
    const result = await upgrading
    successors.add(Number(readIfExists(files.pid)))
    expect(result.code).toBe(0)
    expect(statusLines(files.status).length).toBe(2)
  }, 90_000)

  it("stop while the new supervisor starts: it is stopped too, and nothing serves once stop has answered", async () => {
    const { files, server, port } = await startService()
    fs.writeFileSync(files.holdMarker, "")
    onTestFinished(() => fs.rmSync(files.holdMarker, { force: true }))
    const upgrading = upgrade(files.control, `--binary=${nextBinary}`)
    const started = await server.waitForLine(/^started the new supervisor \(pid:(\d+)\)/)
    const pid = Number(/\(pid:(\d+)\)/.exec(started)?.[1])
    successors.add(pid)
    await waitFor("the new supervisor's worker", () => (childrenOf(pid).length > 0 ? true : undefined))
    const stop = await runToExit(["stop", `--control-socket=${files.control}`])
    expect(stop).toMatchObject({ code: 0, stdout: "stopped\n" })
    // Stopped before the old supervisor answered, with every worker.
    expect(isRunning(pid)).toBe(false)
    await server.exited
    expect(processesRunning(files.pid)).toEqual([])
    expect(await portIsFree(port)).toBe(true)
    expect((await upgrading).code).not.toBe(0)
  }, 90_000)
})
