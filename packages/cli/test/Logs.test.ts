/**
 * Logs an operator can live with, on real processes: workers' lines tagged with their pid,
 * generation and stream (JSON, or text with --log-worker-tags; untouched by default, as in
 * Perl, and relayed as they are with a control socket, so that `logs` has them),
 * `start_server logs [-n N] [-f]` from the supervisor's bounded tail, a slow log output
 * that never blocks a worker, and --log-file reopened after logrotate (SIGWINCH and
 * `start_server reopen-logs`), or left alone when it is a `| cmd` pipe.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Either from "effect/Either"
import { describe, expect, it, onTestFinished } from "vitest"
import { getopt } from "../src/Getopt.js"
import {
  fixtures,
  freePort,
  nodeExecutable,
  type Running,
  readIfExists,
  runToExit,
  sleep,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const worker = path.join(fixtures, "log-worker.mjs")
const track = trackSupervisors()

interface JsonLine {
  readonly message: string
  readonly level: string
  readonly pid: number
  readonly worker_pid?: number
  readonly generation?: number
  readonly stream?: string
}

interface Entry {
  readonly from: string
  readonly pid?: number
  readonly generation?: number
  readonly line: string
}

const jsonLines = (text: string): ReadonlyArray<JsonLine> =>
  text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as JsonLine)

/**
 * A supervisor of log-worker.mjs with a control socket (unless `direct`: Perl's way, workers on
 * the supervisor's own fds); `cli` runs a client command against it.
 */
const boot = (
  options: ReadonlyArray<string>,
  {
    env = {},
    program = [nodeExecutable, worker],
    direct = false
  }: { env?: Record<string, string>; program?: ReadonlyArray<string>; direct?: boolean } = {}
) => {
  const dir = tempDir()
  const control = path.join(dir, "c.sock")
  const server = track(
    startServer([...(direct ? [] : [`--control-socket=${control}`]), "--interval=0", ...options, "--", ...program], {
      env
    })
  )
  const cli = (...args: ReadonlyArray<string>) => runToExit([...args, `--control-socket=${control}`])
  return { dir, control, server, cli }
}

/** The pid of the worker of generation `g`, from the supervisor's log. */
const workerPid = async (server: Running, pattern = /^starting new worker (\d+)$/) =>
  Number(pattern.exec(await server.waitForLine(pattern))?.[1])

/** The target of each of `pid`'s fds (`pipe:[123]`, `socket:[456]`, a path). */
const fdTargets = (pid: number): ReadonlyMap<string, string> =>
  new Map(fs.readdirSync(`/proc/${pid}/fd`).map((fd) => [fd, fs.readlinkSync(`/proc/${pid}/fd/${fd}`)] as const))

const stopped = async (server: Running) => {
  server.kill("SIGTERM")
  expect((await server.exited).code).toBe(0)
}

describe("worker output", () => {
  it("json: each worker line is an object with worker_pid, generation and stream, through a HUP and to the last partial line", async () => {
    const { server } = boot(["--log-format=json"])
    const first = await waitFor("generation 1's lines", () =>
      jsonLines(server.stdout()).find((l) => l.message === "out 1")
    )
    const err = await waitFor("generation 1's stderr", () =>
      server
        .lines()
        .map((l) => JSON.parse(l) as JsonLine)
        .find((l) => l.message === "err 1")
    )
    const started = server
      .lines()
      .map((l) => JSON.parse(l) as JsonLine)
      .find((l) => /^starting new worker/.test(l.message))
    expect(first).toMatchObject({ level: "info", pid: server.pid, generation: 1, stream: "stdout" })
    expect(first.worker_pid).toBe(started?.worker_pid)
    expect(err).toMatchObject({ pid: server.pid, worker_pid: first.worker_pid, generation: 1, stream: "stderr" })

    // A restarted worker's output flows through its own new pipes.
    server.kill("SIGHUP")
    const second = await waitFor("generation 2's line", () =>
      jsonLines(server.stdout()).find((l) => l.message === "out 2")
    )
    expect(second).toMatchObject({ generation: 2, stream: "stdout" })
    expect(second.worker_pid).not.toBe(first.worker_pid)
    // The old worker's last words, without a newline, at its exit.
    await waitFor("generation 1's last words", () =>
      jsonLines(server.stdout()).find((l) => l.message === "last words" && l.generation === 1)
    )
    await stopped(server)
    expect(jsonLines(server.stdout()).find((l) => l.message === "last words" && l.generation === 2)).toMatchObject({
      worker_pid: second.worker_pid
    })
  })

  it("text with --log-worker-tags: `[pid P gen G] ` before each line; without it or a control socket, workers write to start_server's own fds", async () => {
    const tagged = boot(["--log-worker-tags"])
    const pid = await workerPid(tagged.server)
    await waitFor("a tagged stdout line", () =>
      tagged.server.stdout().split("\n").includes(`[pid ${pid} gen 1] out 1`) ? true : undefined
    )
    await tagged.server.waitForLine(new RegExp(`^\\[pid ${pid} gen 1\\] err 1$`))
    // The supervisor reads the worker's pipes: the worker's fd 1 is not the supervisor's.
    expect(fdTargets(pid).get("1")).toMatch(/^pipe:/)
    expect(fdTargets(pid).get("1")).not.toBe(fdTargets(tagged.server.pid).get("1"))

    const plain = boot([], { direct: true })
    const plainPid = await workerPid(plain.server)
    await waitFor("an untagged stdout line", () =>
      plain.server.stdout().split("\n").includes("out 1") ? true : undefined
    )
    await plain.server.waitForLine(/^err 1$/)
    // Perl's way: the supervisor is not in the path, the worker has its fds 1 and 2.
    expect(fdTargets(plainPid).get("1")).toBe(fdTargets(plain.server.pid).get("1"))
    expect(fdTargets(plainPid).get("2")).toBe(fdTargets(plain.server.pid).get("2"))
    await Promise.all([stopped(tagged.server), stopped(plain.server)])
  })

  it("text with a control socket: the workers' output is relayed byte for byte, and `logs` has it", async () => {
    // A byte that is not UTF-8 and a last line without its newline come out exactly as written.
    const script = `printf 'out 1\\n'; printf 'err \\377 1\\n' >&2; printf 'partial'; exec sleep 30`
    const { server, cli } = boot([], { program: ["sh", "-c", script] })
    const stderr: Array<Buffer> = []
    server.child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk))
    const pid = await workerPid(server)
    await waitFor("the relayed lines", () => (server.stdout() === "out 1\npartial" ? true : undefined))
    await server.waitForLine(/^err /)
    expect(fdTargets(pid).get("1")).toMatch(/^pipe:/)
    expect(fdTargets(pid).get("1")).not.toBe(fdTargets(server.pid).get("1"))
    const logs = await cli("logs", "--json")
    const entries = logs.stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Entry)
    expect(entries.filter((e) => e.pid === pid).map((e) => [e.from, e.line])).toEqual([
      ["stdout", "out 1"],
      ["stderr", "err \ufffd 1"]
    ])
    server.kill("SIGTERM")
    await server.exited
    // Read as bytes: the worker's \377 reached start_server's stderr unchanged.
    expect(Buffer.concat(stderr).includes(Buffer.from("\nerr \xff 1\n", "latin1"))).toBe(true)
  })

  it("each worker's pipes are its own: no other worker holds them", async () => {
    const port = await freePort()
    const { server } = boot(["--log-worker-tags", "--workers=2", `--port=127.0.0.1:${port}`])
    const pids = await waitFor("two workers", () => {
      const started = server.lines().flatMap((l) => /^starting new worker (\d+)$/.exec(l)?.[1] ?? [])
      return started.length === 2 ? started.map(Number) : undefined
    })
    await waitFor("both workers' lines", () =>
      pids.every((pid) => server.stdout().includes(`[pid ${pid} gen 1] out 1`)) ? true : undefined
    )
    const [a, b] = pids.map(fdTargets) as [ReadonlyMap<string, string>, ReadonlyMap<string, string>]
    const outputs = (fds: ReadonlyMap<string, string>) => [fds.get("1"), fds.get("2")]
    for (const [mine, other] of [
      [a, b],
      [b, a]
    ] as const) {
      for (const target of outputs(mine)) expect(target).toMatch(/^pipe:/)
      const held = new Set(other.values())
      for (const target of outputs(mine)) expect(held.has(target!)).toBe(false)
    }
    await stopped(server)
  })

  it("splits a line longer than 64 KiB, and a log output that takes nothing blocks no worker: lines are dropped and counted", async () => {
    const { server } = boot(["--log-worker-tags"], { env: { LOG_LONG: "1" } })
    const pid = await workerPid(server)
    const prefix = `[pid ${pid} gen 1] `
    const pieces = await waitFor("the long line, in pieces", () => {
      const found = server
        .stdout()
        .split("\n")
        .filter((l) => l.startsWith(`${prefix}x`))
      return found.reduce((sum, l) => sum + l.length - prefix.length, 0) === 200_000 ? found : undefined
    })
    expect(pieces.map((l) => l.length - prefix.length)).toEqual([65_536, 65_536, 65_536, 3_392])
    await stopped(server)

    // Nobody reads the supervisor's stdout: the worker still writes 100,000 lines, all of
    // them reach the tail, and the supervisor answers meanwhile.
    const stuck = boot(["--log-worker-tags"], { env: { LOG_BURST: "100000" } })
    stuck.server.child.stdout?.pause()
    const last = async () => JSON.parse((await stuck.cli("logs", "-n", "1", "--json")).stdout || "{}") as Entry
    const deadline = Date.now() + 30_000
    while (!/burst 100000$/.test((await last()).line ?? "")) {
      if (Date.now() > deadline) throw new Error(`the worker's lines stopped at ${(await last()).line}`)
    }
    expect((await stuck.cli("status")).code).toBe(0)
    stuck.server.child.stdout?.resume()
    // The first line that fits once the output drains comes after a note of how many were
    // dropped: ask the worker for lines until one does.
    const noted = /^log output too slow: dropped (\d+) lines$/
    while (!stuck.server.lines().some((l) => noted.test(l))) {
      if (Date.now() > deadline) throw new Error("no note of the dropped lines")
      expect((await stuck.cli("signal", "USR2")).code).toBe(0)
      await sleep(200)
    }
    const note = stuck.server.lines().find((l) => noted.test(l))!
    expect(Number(noted.exec(note)?.[1])).toBeGreaterThan(1000)
    await waitFor("the line after the note", () => (/\] mark \d+\n/.test(stuck.server.stdout()) ? true : undefined))
    await stopped(stuck.server)
  })

  it("relayed (a control socket), a log output that takes nothing holds the workers, as their own writes would, and drops nothing", async () => {
    const burst = 300_000
    const stuck = boot([], { env: { LOG_BURST: String(burst) } })
    stuck.server.child.stdout?.pause()
    const last = async () => JSON.parse((await stuck.cli("logs", "-n", "1", "--json")).stdout || "{}") as Entry
    // Held: the worker's lines stop short of the last one (several MiB are more than start_server
    // and the pipes hold), and the supervisor answers meanwhile.
    const deadline = Date.now() + 30_000
    while (!/^burst \d+$/.test((await last()).line ?? "")) {
      if (Date.now() > deadline) throw new Error(`no burst line in the tail: ${(await last()).line}`)
      await sleep(200)
    }
    await sleep(1000)
    const held = (await last()).line
    await sleep(1000)
    expect((await last()).line).toBe(held)
    expect(held).not.toBe(`burst ${burst}`)
    expect((await stuck.cli("status")).code).toBe(0)
    stuck.server.child.stdout?.resume()
    await waitFor("every line", () => (stuck.server.stdout().includes(`\nburst ${burst}\n`) ? true : undefined), 60_000)
    const lines = stuck.server.stdout().split("\n")
    expect(lines.filter((l) => l.startsWith("burst ")).length).toBe(burst)
    expect(stuck.server.lines().filter((l) => l.startsWith("log output too slow"))).toEqual([])
    await stopped(stuck.server)
  })

  it('a logger that reads nothing (--log-file="| cmd") never holds the exit: a write to it waits, it does not block', async () => {
    const dir = tempDir()
    const pid = path.join(dir, "logger.pid")
    // The logger never reads: its pipe (64 KiB) is full long before the worker's burst is read.
    const { server, cli } = boot(["--log-worker-tags", `--log-file=| sh -c 'echo $$ > ${pid}; exec sleep 1000'`], {
      env: { LOG_BURST: "100000" }
    })
    const logger = Number(await waitFor("the logger", () => readIfExists(pid)?.trim() || undefined))
    onTestFinished(() => {
      try {
        process.kill(logger, "SIGKILL")
      } catch {
        // gone already
      }
    })
    const last = async () => JSON.parse((await cli("logs", "-n", "1", "--json")).stdout || "{}") as Entry
    const deadline = Date.now() + 30_000
    while (!/burst 100000$/.test((await last()).line ?? "")) {
      if (Date.now() > deadline) throw new Error(`the worker's lines stopped at ${(await last()).line}`)
    }
    // Before, a write blocked in the thread pool held the exit for as long as the logger lived.
    await stopped(server)
  })
})

describe("start_server logs", () => {
  it("-n prints the last lines; -f follows, and a line logged after it started arrives", async () => {
    const { server, cli, control } = boot(["--log-worker-tags"])
    const pid = await workerPid(server)
    await server.waitForLine(/\] err 1$/)
    await waitFor("out 1", () => (server.stdout().includes("out 1") ? true : undefined))

    const all = await cli("logs", "-n", "50")
    expect(all.code).toBe(0)
    expect(all.stdout).toMatch(/^start_server \(pid:\d+\) starting now\.\.\.\n/m)
    expect(all.stdout).toContain(`starting new worker ${pid}\n`)
    expect(all.stdout).toContain(`[pid ${pid} gen 1] out 1\n`)
    const two = await cli("logs", "--lines=2", "--json")
    const entries = two.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Entry)
    expect(entries).toHaveLength(2)
    expect(entries.map((e) => e.line).sort()).toEqual([`[pid ${pid} gen 1] err 1`, `[pid ${pid} gen 1] out 1`])
    expect(entries.find((e) => e.from === "stdout")).toMatchObject({ pid, generation: 1 })

    const follower = track(startServer(["logs", "-f", "-n", "1", `--control-socket=${control}`]))
    // The last line arrives with the subscription: from then on, nothing is missed.
    await waitFor("the follower's first line", () => (follower.stdout().includes("\n") ? true : undefined))
    expect((await cli("signal", "USR2")).code).toBe(0)
    await waitFor("the new line at the follower", () =>
      follower.stdout().includes(`[pid ${pid} gen 1] mark 1\n`) ? true : undefined
    )
    await stopped(server)
    // The supervisor exiting ends `logs -f`.
    expect(await follower.exited).toMatchObject({ code: 0 })
  })

  it("the tail keeps the last 1000 lines, and at most 1 MiB", async () => {
    const counted = boot(["--log-worker-tags"], { env: { LOG_BURST: "1500" } })
    const pid = await workerPid(counted.server)
    await waitFor("the burst", () => (counted.server.stdout().includes("burst 1500\n") ? true : undefined))
    const lines = (await counted.cli("logs", "-n", "5000")).stdout.trimEnd().split("\n")
    expect(lines).toHaveLength(1000)
    // The worker's stderr line may be read before or after its stdout burst: 999 or 1000 of it.
    const burst = lines
      .flatMap((l) => new RegExp(`^\\[pid ${pid} gen 1\\] burst (\\d+)$`).exec(l)?.[1] ?? [])
      .map(Number)
    expect(burst.length).toBeGreaterThanOrEqual(999)
    expect(burst).toEqual(Array.from({ length: burst.length }, (_, i) => 1501 - burst.length + i))

    const big = boot(["--log-worker-tags"], { env: { LOG_LONG: "10" } })
    await workerPid(big.server)
    await waitFor("the long lines", () => (big.server.stdout().length > 2_000_000 ? true : undefined))
    const entries = (await big.cli("logs", "-n", "5000", "--json")).stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Entry)
    const bytes = entries.reduce((sum, e) => sum + Buffer.byteLength(e.line), 0)
    expect(bytes).toBeLessThanOrEqual(1024 * 1024)
    expect(bytes).toBeGreaterThan(1024 * 1024 - 70_000)
    expect(entries.length).toBeLessThan(50)
    await Promise.all([stopped(counted.server), stopped(big.server)])
  })

  it("-n and -f are the logs command's: the supervisor's own command line reads -n as Perl does", () => {
    const perl = getopt(["-n", "5", "--", "app"])
    expect(Either.isLeft(perl) && perl.left.lines).toEqual(["Unknown option: n"])
    const logs = getopt(["-f", "-n", "5"], {}, { f: "follow", n: "lines" })
    expect(Either.getOrThrow(logs).options).toEqual(
      new Map<string, unknown>([
        ["follow", true],
        ["lines", "5"]
      ])
    )
    // An abbreviation that meant an option before still does.
    expect(Either.getOrThrow(getopt(["--li"])).options.get("listen-fds")).toBe(true)
    expect(Either.getOrThrow(getopt(["--lin=3"])).options.get("lines")).toBe("3")
  })
})

describe("reopening --log-file", () => {
  it("after a rename, SIGWINCH and `start_server reopen-logs` each reopen the path: later lines land in the new file", async () => {
    const dir = tempDir()
    const log = path.join(dir, "app.log")
    const { server, cli } = boot([`--log-file=${log}`, "--log-worker-tags"])
    await waitFor("the worker's line in the log", () => (readIfExists(log)?.includes("] out 1\n") ? true : undefined))

    fs.renameSync(log, `${log}.1`)
    server.kill("SIGWINCH")
    await waitFor("the new file", () => (readIfExists(log)?.includes(`reopened log file:${log}\n`) ? true : undefined))
    expect((await cli("signal", "USR2")).code).toBe(0)
    await waitFor("a worker line in the new file", () => (readIfExists(log)?.includes("] mark 1\n") ? true : undefined))

    fs.renameSync(log, `${log}.2`)
    const reopened = await cli("reopen-logs")
    expect(reopened).toMatchObject({ code: 0, stdout: `reopened ${log}\n` })
    expect((await cli("signal", "USR2")).code).toBe(0)
    await waitFor("a worker line in the newest file", () =>
      readIfExists(log)?.includes("] mark 2\n") ? true : undefined
    )
    await stopped(server)
    expect(readIfExists(`${log}.1`)).not.toContain("mark")
    expect(readIfExists(`${log}.2`)).toContain("] mark 1\n")
    expect(readIfExists(`${log}.2`)).not.toContain("mark 2")
    expect(readIfExists(log)).toMatch(/^reopened log file:/)
    expect(readIfExists(log)).toContain("\nexiting\n")
  })

  it("untagged workers without a control socket keep the old file until they are restarted", async () => {
    const dir = tempDir()
    const log = path.join(dir, "app.log")
    const { server } = boot([`--log-file=${log}`], { direct: true })
    const pid = await waitFor(
      "the worker",
      () => Number(/^starting new worker (\d+)$/m.exec(readIfExists(log) ?? "")?.[1]) || undefined
    )
    await waitFor("the worker's line in the log", () => (readIfExists(log)?.includes("out 1\n") ? true : undefined))
    fs.renameSync(log, `${log}.1`)
    server.kill("SIGWINCH")
    await waitFor("the reopened log", () => readIfExists(log))
    process.kill(pid, "SIGUSR2")
    await waitFor("the old worker's line in the old file", () =>
      readIfExists(`${log}.1`)?.includes("mark 1\n") ? true : undefined
    )
    server.kill("SIGHUP")
    await waitFor("the new worker's line in the new file", () =>
      readIfExists(log)?.includes("out 2\n") ? true : undefined
    )
    await stopped(server)
  })

  it("relayed workers (a control socket) write to the new file at once", async () => {
    const dir = tempDir()
    const log = path.join(dir, "app.log")
    const { server, cli } = boot([`--log-file=${log}`])
    await waitFor("the worker's line in the log", () => (readIfExists(log)?.includes("out 1\n") ? true : undefined))
    fs.renameSync(log, `${log}.1`)
    expect((await cli("reopen-logs")).code).toBe(0)
    expect((await cli("signal", "USR2")).code).toBe(0)
    await waitFor("the worker's line in the new file", () =>
      readIfExists(log)?.includes("mark 1\n") ? true : undefined
    )
    expect(readIfExists(`${log}.1`)).not.toContain("mark 1")
    await stopped(server)
  })

  it("a `| cmd` pipe logs through, and reopening it is a no-op that says so", async () => {
    const dir = tempDir()
    const file = path.join(dir, "piped.log")
    const { server, cli } = boot([`--log-file=| cat >> ${file}`, "--log-worker-tags"])
    await waitFor("the worker's line through cat", () => (readIfExists(file)?.includes("] out 1\n") ? true : undefined))
    const reopened = await cli("reopen-logs")
    const said = `--log-file is a pipe to "cat >> ${file}": nothing to reopen`
    expect(reopened).toMatchObject({ code: 0, stdout: `${said}\n` })
    await waitFor("the no-op in the log", () => (readIfExists(file)?.includes(`${said}\n`) ? true : undefined))
    server.kill("SIGWINCH")
    await waitFor("the no-op again", () => (readIfExists(file)?.split(said).length === 3 ? true : undefined))
    await stopped(server)
    // cat ends with start_server (end of its input), having written the last lines.
    await waitFor("cat to write the last lines", () =>
      readIfExists(file)?.includes("\nexiting\n") && readIfExists(file)?.includes("] last words") ? true : undefined
    )
  })

  it("without --log-file, reopen-logs has nothing to do and says so", async () => {
    const { server, cli } = boot([])
    await workerPid(server)
    expect(await cli("reopen-logs", "--json")).toMatchObject({
      code: 0,
      stdout: `${JSON.stringify({ reopened: null, reason: "no --log-file: nothing to reopen" })}\n`
    })
    await stopped(server)
  })
})
