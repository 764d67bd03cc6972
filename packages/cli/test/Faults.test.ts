/**
 * Faults a hostile operator or a starved machine inflicts: the supervisor survives each one
 * it can, and never harms a running instance (issue #11).
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import {
  connects,
  fixtures,
  freePort,
  get,
  isRunning,
  nodeExecutable,
  readIfExists,
  runToExit,
  sleep,
  startServer,
  startServerBin,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { binOf, type Impl, impls } from "./support/Parity.js"
import { perlMissing } from "./support/Perl.js"
import { fill, mountTmpfs, tmpfsUnavailable } from "./support/Tmpfs.js"

const worker = path.join(fixtures, "http-worker.mjs")
const track = trackSupervisors()

const generation = (status: string) => Number(/^(\d+):/.exec(readIfExists(status) ?? "")?.[1] ?? 0)

/** The lowest fd number `pid` does not have open: with RLIMIT_NOFILE there, it can open none. */
const lowestFreeFd = (pid: number) => {
  const open = new Set(fs.readdirSync(`/proc/${pid}/fd`).map(Number))
  let fd = 0
  while (open.has(fd)) fd++
  return fd
}

/** A supervisor of the test worker on a port, ready-notified, with its status file; at generation 1. */
const bootWorker = async (extra: ReadonlyArray<string> = []) => {
  const dir = tempDir()
  const port = await freePort()
  const status = path.join(dir, "status")
  const control = path.join(dir, "control.sock")
  const server = track(
    startServer([
      `--port=127.0.0.1:${port}`,
      `--status-file=${status}`,
      "--ready=notify-fd",
      ...extra.map((arg) => arg.replace("CONTROL", control)),
      "--",
      nodeExecutable,
      worker
    ])
  )
  await waitFor("generation 1", () => (generation(status) === 1 ? true : undefined))
  return { server, status, control, port }
}

/** The test workers `pid` started that still run, oldest first (children of any of its threads). */
const workersOf = (pid: number): Array<number> =>
  fs
    .readdirSync(`/proc/${pid}/task`)
    .flatMap((task) => (readIfExists(`/proc/${pid}/task/${task}/children`) ?? "").split(" "))
    .filter((child) => child.trim() !== "")
    .map(Number)
    // Not the subshells of a launcher script (node_modules/.bin/start_server runs some).
    .filter((child) => isRunning(child) && readIfExists(`/proc/${child}/cmdline`) === `${nodeExecutable}\0${worker}\0`)
    .sort((a, b) => a - b)

/** One GET that must be answered 200 within `timeoutMs`, on a fresh connection. */
const probe = (port: number, timeoutMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, agent: false, timeout: timeoutMs }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode === 200))
      res.on("error", () => resolve(false))
    })
    req.on("error", () => resolve(false))
    req.on("timeout", () => req.destroy(new Error("timeout")))
  })

const killLoop = { kills: 15, everyMs: 1000, probeEveryMs: 100, probeTimeoutMs: 500 }

/**
 * Serves the test worker under `impl`'s start_server and SIGKILLs its worker every second
 * while probing the port every 100 ms: answers how many probes were sent and failed.
 */
const probesUnderKills = async (impl: Impl) => {
  const port = await freePort()
  const server = track(startServer([`--port=127.0.0.1:${port}`, "--", nodeExecutable, worker], { bin: binOf(impl) }))
  await waitFor(`${impl}'s worker`, () => workersOf(server.pid)[0])
  expect(await get(port)).toMatch(/^hello from generation 1,/)
  const outcomes: Array<Promise<boolean>> = []
  const prober = setInterval(() => outcomes.push(probe(port, killLoop.probeTimeoutMs)), killLoop.probeEveryMs)
  onTestFinished(() => clearInterval(prober))
  const killed = new Set<number>()
  for (let n = 0; n < killLoop.kills; n++) {
    await sleep(killLoop.everyMs)
    const current = workersOf(server.pid).at(-1)
    if (current === undefined || killed.has(current)) continue
    killed.add(current)
    process.kill(current, "SIGKILL")
  }
  clearInterval(prober)
  const results = await Promise.all(outcomes)
  const spawns = () => server.lines().filter((l) => /^starting new worker \d+$/.test(l)).length
  // The first worker and one replacement per kill (the last one may still be on its way).
  await waitFor(`${impl}: a replacement for each of ${killed.size} kills`, () =>
    spawns() >= killed.size + 1 ? true : undefined
  ).catch(() => undefined)
  const spawned = spawns()
  const backedOff = server.lines().filter((l) => l.startsWith("crash loop"))
  return {
    impl,
    kills: killed.size,
    spawned,
    backedOff,
    probes: results.length,
    failed: results.filter((ok) => !ok).length,
    port
  }
}

describe("faults", () => {
  it("a restart that cannot open a file descriptor fails, is logged, and generation 1 keeps serving", async () => {
    const { server, status, port } = await bootWorker()
    const soft = lowestFreeFd(server.pid)
    execFileSync("prlimit", [`--pid=${server.pid}`, `--nofile=${soft}:`])
    server.kill("SIGHUP")
    await server.waitForLine(/Too many open files/)
    expect(isRunning(server.pid)).toBe(true)
    expect(await get(port)).toMatch(/^hello from generation 1,/)
    // Descriptors again: the next restart works.
    execFileSync("prlimit", [`--pid=${server.pid}`, "--nofile=4096:"])
    server.kill("SIGHUP")
    await waitFor("a newer generation", () => (generation(status) > 1 ? true : undefined), 20_000)
    expect(await get(port)).not.toMatch(/^hello from generation 1,/)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })

  describe("a second instance on the same pid file is refused and touches nothing of the first", () => {
    const firstInstance = async () => {
      const dir = tempDir()
      const files = {
        pid: path.join(dir, "pid"),
        socket: path.join(dir, "app.sock"),
        json: path.join(dir, "status.json"),
        metrics: path.join(dir, "metrics.prom"),
        status: path.join(dir, "status")
      }
      const first = track(
        startServer([
          `--path=${files.socket}`,
          `--pid-file=${files.pid}`,
          `--status-file=${files.status}`,
          `--json-status-file=${files.json}`,
          `--metrics-file=${files.metrics}`,
          "--",
          nodeExecutable,
          worker
        ])
      )
      await waitFor("the first instance", () => (generation(files.status) === 1 ? true : undefined))
      return { dir, files, first }
    }

    it.each([
      ["in the foreground", []],
      ["with --daemonize", ["--daemonize", "--log-file=LOG"]]
    ])("%s", async (_how, extra) => {
      const { dir, files, first } = await firstInstance()
      const args = extra.map((a) => a.replace("LOG", path.join(dir, "second.log")))
      const second = await runToExit([
        ...args,
        `--path=${files.socket}`,
        `--pid-file=${files.pid}`,
        `--json-status-file=${files.json}`,
        `--metrics-file=${files.metrics}`,
        "--",
        nodeExecutable,
        worker
      ])
      expect(second.code).toBe(255)
      expect(second.stderr).toContain(`pid file ${files.pid} is locked by a running start_server (pid ${first.pid})`)
      expect(second.stderr).not.toContain("removing existing socket file")
      expect(await connects({ path: files.socket })).toBe(true)
      for (const file of [files.pid, files.json, files.metrics]) expect(fs.existsSync(file)).toBe(true)
      expect(readIfExists(files.pid)).toBe(`${first.pid}\n`)
    })
  })

  it("a descriptor left open by start_server's caller reaches no worker", async () => {
    const dir = tempDir()
    const port = await freePort()
    const seen = path.join(dir, "fds")
    const leaked = fs.openSync(path.join(dir, "leaked"), "w")
    onTestFinished(() => fs.closeSync(leaked))
    // The worker writes the fds it has, then serves.
    const script = `ls /proc/$$/fd > ${seen}; exec ${nodeExecutable} ${worker}`
    const stdio: Array<"ignore" | "pipe" | number> = ["ignore", "pipe", "pipe"]
    for (let fd = 3; fd < 40; fd++) stdio.push("ignore")
    stdio.push(leaked)
    const child = spawn(startServerBin, [`--port=127.0.0.1:${port}`, "--", "sh", "-c", script], { stdio })
    onTestFinished(() => {
      if (child.exitCode === null) child.kill("SIGKILL")
    })
    await waitFor("the worker's fd list", () => (readIfExists(seen)?.includes("\n") ? true : undefined))
    expect(await get(port)).toMatch(/^hello from generation 1,/)
    const fds = (readIfExists(seen) ?? "").split("\n").filter(Boolean).map(Number)
    expect(fds).not.toContain(40)
    child.kill("SIGTERM")
    await new Promise((resolve) => child.once("exit", resolve))
  })

  describe("the control socket under abuse", () => {
    const boot = (extra: ReadonlyArray<string> = []) => bootWorker(["--control-socket=CONTROL", ...extra])
    const rssMiB = (pid: number) =>
      Number(/VmRSS:\s+(\d+)/.exec(readIfExists(`/proc/${pid}/status`) ?? "")?.[1] ?? 0) / 1024

    it("100,000 requests in one write, from a client that reads: HUP handled within 1 s, others served, memory bounded", async () => {
      // JSON logs carry the supervisor's own time: this test process, busy reading the flood,
      // would notice the line late.
      const { server, status, control } = await boot(["--log-format=json"])
      const before = rssMiB(server.pid)
      let replies = 0
      let peak = before
      const client = net.connect(control)
      onTestFinished(() => {
        client.destroy()
      })
      client.on("data", (chunk: Buffer) => {
        for (const byte of chunk) if (byte === 10) replies += 1
      })
      client.on("error", () => {})
      await new Promise<void>((resolve) => client.once("connect", resolve))
      client.write('{"cmd":"status"}\n'.repeat(100_000))
      // Only a precondition: on a loaded machine the first thousand replies take a while.
      await waitFor("the flood to be under way", () => (replies > 1000 ? true : undefined), 30_000)
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMiB(server.pid))
      }, 50)
      onTestFinished(() => clearInterval(sampler))
      const hupAt = Date.now()
      server.kill("SIGHUP")
      const line = await server.waitForLine(/"message":"received HUP, spawning a new worker"/, 20_000)
      expect(Date.parse(JSON.parse(line).time) - hupAt).toBeLessThan(1000)
      await waitFor("generation 2", () => (generation(status) === 2 ? true : undefined), 20_000)
      // Another client is served meanwhile, and the flood keeps being answered.
      const other = await runToExit(["status", `--control-socket=${control}`, "--json", "--timeout=5"])
      expect(other.code).toBe(0)
      const answered = replies
      await waitFor("more replies", () => (replies > answered + 500 ? true : undefined), 20_000)
      clearInterval(sampler)
      // Bounded: 100,000 replies held at once would be about 100 MiB. V8's young generation
      // grows by up to 32 MiB under such a burst since no V8 flag is set at run time (issue 24:
      // --semi-space-growth-factor=1 had kept it at 1 MiB), hence 64 rather than 50.
      expect(peak - before).toBeLessThan(64)
    }, 60_000)

    it("1,000 idle connections: those beyond the bound are refused with a reason; HUP and status still work", async () => {
      const { server, status, control } = await boot()
      // A connect the kernel refuses (a full accept queue: EAGAIN) counts as not connected.
      const idle = await Promise.all(
        Array.from(
          { length: 1000 },
          () =>
            new Promise<{ socket: net.Socket; connected: boolean; said: () => string }>((resolve) => {
              const socket = net.connect(control)
              let said = ""
              socket.on("data", (chunk: Buffer) => {
                said += chunk.toString()
              })
              socket.once("error", () => resolve({ socket, connected: false, said: () => said }))
              socket.once("connect", () => resolve({ socket, connected: true, said: () => said }))
            })
        )
      )
      onTestFinished(() => {
        for (const { socket } of idle) socket.destroy()
      })
      const connected = idle.filter((c) => c.connected)
      const refusal = /too many control connections \(256\); try again later/
      await waitFor("the refusals", () =>
        connected.filter((c) => refusal.test(c.said())).length >= connected.length - 256 ? true : undefined
      )
      expect(connected.length).toBeGreaterThan(256)
      expect(connected.filter((c) => c.said() === "").length).toBe(256)
      server.kill("SIGHUP")
      await waitFor("generation 2", () => (generation(status) === 2 ? true : undefined), 20_000)
      for (const { socket } of idle) socket.destroy()
      const shown = await runToExit(["status", `--control-socket=${control}`, "--json"])
      expect(shown.code).toBe(0)
      expect(JSON.parse(shown.stdout)).toMatchObject({ generation: 2 })
      expect(isRunning(server.pid)).toBe(true)
    }, 60_000)
  })

  it("a worker stopped with SIGSTOP is woken after its stop signal, so a restart completes", async () => {
    const { server, status } = await bootWorker()
    const old = Number((readIfExists(status) ?? "").split(":")[1])
    process.kill(old, "SIGSTOP")
    server.kill("SIGHUP")
    await server.waitForLine(new RegExp(`^old worker ${old} died, status:0$`), 10_000)
    // The status file is rewritten just after that line.
    await waitFor("generation 2 alone", () => (/^2:\d+\n$/.test(readIfExists(status) ?? "") ? true : undefined))
  })

  describe("the pid file", () => {
    it("--stop and --restart refuse a pid file that no start_server holds, when its pid is another process", async () => {
      const dir = tempDir()
      const pidFile = path.join(dir, "pid")
      const status = path.join(dir, "status")
      // An innocent process that happens to have the pid written in a stale pid file.
      const innocent = spawn("sleep", ["30"], { stdio: "ignore" })
      onTestFinished(() => {
        innocent.kill("SIGKILL")
      })
      fs.writeFileSync(pidFile, `${innocent.pid}\n`)
      fs.writeFileSync(status, `1:${innocent.pid}\n`)
      const message = `${pidFile} is stale: no start_server holds its lock, and pid ${innocent.pid} is another process; not signalling it`
      const stop = await runToExit(["--stop", `--pid-file=${pidFile}`])
      expect({ code: stop.code, last: stop.stderr.split("\n").at(-1) }).toEqual({ code: 3, last: message })
      const restart = await runToExit(["--restart", `--pid-file=${pidFile}`, `--status-file=${status}`])
      expect({ code: restart.code, stderr: restart.stderr }).toEqual({ code: 3, stderr: message })
      expect(isRunning(innocent.pid ?? 0)).toBe(true)
    })

    it("is never written through a symlink, nor is the status file's temporary", async () => {
      const dir = tempDir()
      const precious = path.join(dir, "precious")
      fs.writeFileSync(precious, "keep me\n")
      const pidFile = path.join(dir, "pid")
      fs.symlinkSync(precious, pidFile)
      const refused = await runToExit([`--pid-file=${pidFile}`, "--port=127.0.0.1:0", "--", "true"])
      expect(refused.code).toBe(40)
      expect(refused.stderr.split("\n").at(-1)).toBe(
        `failed to open file:${pidFile}: Too many levels of symbolic links`
      )
      expect(readIfExists(precious)).toBe("keep me\n")

      // The status file's PATH.PID: a link planted there is replaced, its target untouched.
      const status = path.join(dir, "status")
      // --interval=1: the first status write comes a second after start, after the link is planted.
      const server = track(startServer([`--status-file=${status}`, "--interval=1", "--", "sleep", "30"]))
      fs.symlinkSync(precious, `${status}.${server.pid}`)
      await waitFor("the status file", () => (readIfExists(status)?.startsWith("1:") ? true : undefined))
      expect(readIfExists(precious)).toBe("keep me\n")
    })
  })

  it("--path-mode sets the socket file's permissions (Perl's 0777 otherwise); a bad mode is refused", async () => {
    const dir = tempDir()
    const socket = path.join(dir, "app.sock")
    const server = track(startServer([`--path=${socket}`, "--path-mode=0660", "--interval=0", "--", "sleep", "30"]))
    await server.waitForLine(/^starting new worker/)
    expect(fs.statSync(socket).mode & 0o777).toBe(0o660)
    const bad = await runToExit([`--path=${path.join(dir, "b.sock")}`, "--path-mode=999", "--", "true"])
    expect(bad.code).toBe(255)
    expect(bad.stderr.split("\n").at(-1)).toBe("--path-mode: an octal file mode such as 0660 expected")
  })

  describe("paths that can never work are refused at start with one line, not a stack trace", () => {
    it.each([
      ["--json-status-file naming a directory", (dir: string) => [`--json-status-file=${dir}`], /: Is a directory$/],
      [
        "--metrics-file with a name too long",
        (dir: string) => [`--metrics-file=${path.join(dir, "m".repeat(255))}`],
        /: File name too long$/
      ],
      [
        "--json-status-file in a missing directory",
        (dir: string) => [`--json-status-file=${path.join(dir, "missing", "s.json")}`],
        /: No such file or directory$/
      ]
    ])("%s", async (_what, options, message) => {
      const dir = tempDir()
      const { code, stderr } = await runToExit([...options(dir), "--port=127.0.0.1:0", "--", "true"])
      expect(code).toBe(255)
      expect(stderr.split("\n").at(-1)).toMatch(message)
      expect(stderr).not.toMatch(/^\s+at /m)
    })

    it("--control-socket longer than a unix socket address holds: File name too long, exit 36, no file", async () => {
      const dir = tempDir()
      const control = path.join(dir, "c".repeat(120))
      const { code, stderr } = await runToExit([`--control-socket=${control}`, "--", "true"])
      expect(code).toBe(36)
      expect(stderr.split("\n").at(-1)).toBe(`failed to listen on ${control}:File name too long`)
      expect(fs.readdirSync(dir)).toEqual([])
    })

    it("--log-file='|' is refused as Perl refuses it (exit 32), not a logger that loses every line", async () => {
      const { code, stderr } = await runToExit(["--log-file=|", "--", "true"])
      expect(code).toBe(32)
      expect(stderr.split("\n")).toEqual(["Missing command in piped open", "failed to open pipe:|: Broken pipe"])
    })
  })

  describe.skipIf(tmpfsUnavailable !== undefined)(
    `a full file system${tmpfsUnavailable === undefined ? "" : ` (skipped: ${tmpfsUnavailable})`}`,
    () => {
      it("under the status, pid, JSON status and metrics files: one line per failed write, generation 2 serves, no temporary left", async () => {
        const dir = mountTmpfs("size=64k")
        const file = (name: string) => path.join(dir, name)
        const port = await freePort()
        const server = track(
          startServer([
            `--port=127.0.0.1:${port}`,
            `--status-file=${file("status")}`,
            `--pid-file=${file("pid")}`,
            `--json-status-file=${file("status.json")}`,
            `--metrics-file=${file("metrics")}`,
            "--ready=notify-fd",
            "--",
            nodeExecutable,
            worker
          ])
        )
        await waitFor("generation 1", () => (generation(file("status")) === 1 ? true : undefined))
        const ours = ["metrics", "pid", "status", "status.json"]
        const filler = fill(dir)
        server.kill("SIGHUP")
        await server.waitForLine(/^old worker \d+ died, status:0$/)
        expect(await get(port)).toMatch(/^hello from generation 2,/)
        expect(isRunning(server.pid)).toBe(true)
        // Each failed write said so in one line of its own, no stack trace; the files are still
        // whole (generation 1's), and no temporary is left.
        const failures = [
          new RegExp(`^failed to create temporary file:${file("status")}\\.${server.pid}:No space left on device$`),
          new RegExp(`^failed to write ${file("status.json")}:No space left on device$`),
          new RegExp(`^failed to write ${file("metrics")}:No space left on device$`)
        ]
        const naming = server.lines().filter((l) => l.includes(dir))
        // Every event writes the JSON status, then the metrics: as many lines for each, once the
        // last event's metrics line is out (it can come a moment after the worker's exit line).
        await waitFor("as many failed metrics writes as failed JSON status writes", () => {
          const [, json, metrics] = failures.map((f) => server.lines().filter((l) => f.test(l)).length)
          return json === metrics ? true : undefined
        })
        for (const failure of failures)
          expect(
            naming.some((l) => failure.test(l)),
            String(failure)
          ).toBe(true)
        expect(naming.filter((l) => !failures.some((f) => f.test(l)))).toEqual([])
        expect(server.lines().filter((l) => /^\s/.test(l))).toEqual([])
        // A write under way has its temporary for an instant: what must not stay.
        const only = (names: ReadonlyArray<string>) =>
          waitFor(
            () => `only ${names.join(", ")} in ${dir} (got: ${fs.readdirSync(dir).sort().join(", ")})`,
            () => (fs.readdirSync(dir).sort().join() === [...names].sort().join() ? true : undefined)
          )
        await only(["filler", ...ours])
        expect(readIfExists(file("status"))).toMatch(/^1:\d+\n$/)
        expect(readIfExists(file("pid"))).toBe(`${server.pid}\n`)
        expect(JSON.parse(readIfExists(file("status.json")) ?? "")).toMatchObject({ generation: 1 })

        // Space again: the next restart writes every file, and nothing else is there. The
        // old worker's exit is logged before its event's writes fail: count once they have.
        let failed = naming.length
        for (;;) {
          await sleep(200)
          const now = server.lines().filter((l) => l.includes(dir)).length
          if (now === failed) break
          failed = now
        }
        fs.rmSync(filler)
        server.kill("SIGHUP")
        // The status file says 3 alone once generation 2 has exited.
        await waitFor("generation 3 in the status file", () => (generation(file("status")) === 3 ? true : undefined))
        await waitFor("generation 3 in the JSON status", () =>
          /"generation": 3,/.test(readIfExists(file("status.json")) ?? "") ? true : undefined
        )
        expect(await get(port)).toMatch(/^hello from generation 3,/)
        expect(server.lines().filter((l) => l.includes(dir)).length).toBe(failed)
        await only(ours)
        server.kill("SIGTERM")
        expect((await server.exited).code).toBe(0)
        expect(fs.readdirSync(dir)).toEqual([])
      })

      it("at start, a pid file that cannot be written: refused in one line, and no empty pid file left", async () => {
        const dir = mountTmpfs("size=16k")
        const filler = fill(dir)
        const pidFile = path.join(dir, "pid")
        const { code, stderr } = await runToExit([`--pid-file=${pidFile}`, "--port=127.0.0.1:0", "--", "true"])
        expect(code).toBe(28)
        expect(stderr.split("\n").at(-1)).toBe(`failed to open file:${pidFile}: No space left on device`)
        expect(fs.readdirSync(dir)).toEqual([path.basename(filler)])
      })
    }
  )

  const perlSkip = perlMissing()
  describe.skipIf(perlSkip !== undefined)(
    `side by side with Perl's start_server${perlSkip === undefined ? "" : ` (skipped: ${perlSkip})`}`,
    () => {
      // What matters for the service is that every kill is replaced at once, as Perl does: no
      // backoff. How many probes fail meanwhile depends on how fast a worker starts on a
      // loaded machine, so that comparison is a benchmark (`pnpm bench`: "probes failed while
      // the worker is SIGKILLed every second"), run alone, not a timed assertion here.
      it("SIGKILL of the worker every second for 15 s: each kill replaced at once, as under Perl; both serve after", async () => {
        const [ours, perl] = await Promise.all(impls.map(probesUnderKills))
        const seen = JSON.stringify({ ours, perl })
        for (const run of [ours, perl]) {
          expect(run?.kills, seen).toBeGreaterThanOrEqual(killLoop.kills - 1)
          // One "starting new worker" line per spawn: every kill got its replacement.
          expect(run?.spawned, seen).toBeGreaterThanOrEqual((run?.kills ?? 0) + 1)
          expect(await get(run?.port ?? 0), seen).toMatch(/^hello from generation \d+,/)
        }
        expect(ours?.backedOff, seen).toEqual([])
      }, 60_000)
    }
  )
})
