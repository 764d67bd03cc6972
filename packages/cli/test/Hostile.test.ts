/**
 * What a second instance, another user or odd bytes and files can do to a running
 * start_server (issue #23): none of it harms the running instance, and each is refused in
 * one line or passed through unchanged. Under Node and Bun.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import {
  commandFor,
  exitWithin,
  fixtures,
  freePort,
  getUnix,
  isRunning,
  nodeExecutable,
  readIfExists,
  runToExit,
  startServer,
  startServerBin,
  statusLines,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const worker = path.join(fixtures, "http-worker.mjs")
const track = trackSupervisors()

describe("a second instance", () => {
  it("never removes the --path socket a running start_server listens on (exit 98, the file still served)", async () => {
    const dir = tempDir()
    const socket = path.join(dir, "app.sock")
    const control = path.join(dir, "c.sock")
    const first = track(startServer([`--path=${socket}`, `--control-socket=${control}`, "--", nodeExecutable, worker]))
    await first.waitForLine(/^starting new worker \d+$/)
    await getUnix(socket)
    const second = await runToExit([`--path=${socket}`, `--control-socket=${control}`, "--", nodeExecutable, worker])
    expect({ code: second.code, last: second.stderr.split("\n").at(-1) }).toEqual({
      code: 98,
      last: `failed to listen to file ${socket}:Address already in use`
    })
    expect(second.stderr).not.toMatch(/removing existing socket file/)
    expect(await getUnix(socket)).toMatch(/generation 1/)
  }, 30_000)
})

describe("--ready=ipc", () => {
  const rssMiB = (pid: number) =>
    Number(/VmRSS:\s+(\d+)/.exec(readIfExists(`/proc/${pid}/status`) ?? "")?.[1] ?? 0) / 1024

  it("a worker sending 4 messages of 100 MB does not grow the supervisor's memory; its ready after them counts", async () => {
    const dir = tempDir()
    const status = path.join(dir, "status")
    const server = track(
      startServer([
        `--port=127.0.0.1:${await freePort()}`,
        `--status-file=${status}`,
        "--ready=ipc",
        "--",
        nodeExecutable,
        path.join(fixtures, "ipc-flood-worker.mjs")
      ])
    )
    let peak = 0
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB(server.pid))
    }, 20)
    onTestFinished(() => clearInterval(sampler))
    await waitFor("generation 1 ready", () => (statusLines(status).length === 1 ? true : undefined), 30_000)
    clearInterval(sampler)
    // Node's and Bun's own IPC readers held each message whole (1.7 GB for 4 × 200 MB).
    expect(peak).toBeLessThan(250)
  }, 60_000)
})

describe("a pid file someone else owns", () => {
  const root = process.getuid?.() === 0

  it.skipIf(!root)(
    "is refused in one line (exit 255), and left as it is",
    async () => {
      const dir = tempDir()
      const pidFile = path.join(dir, "app.pid")
      // Planted by another user, writable by all: that user could rewrite it while we run.
      fs.writeFileSync(pidFile, "1\n", { mode: 0o666 })
      fs.chmodSync(pidFile, 0o666)
      fs.chownSync(pidFile, 65534, 65534)
      const server = track(
        startServer([`--pid-file=${pidFile}`, `--port=127.0.0.1:${await freePort()}`, "--", nodeExecutable, worker])
      )
      const exit = await exitWithin(server, 10_000)
      expect({ code: exit?.code, last: server.lines().at(-1) }).toEqual({
        code: 255,
        last: `pid file ${pidFile} is owned by another user (uid 65534); refusing to use it`
      })
      expect(fs.readFileSync(pidFile, "utf8")).toBe("1\n")
    },
    30_000
  )

  it("one of ours that others may write loses those bits", async () => {
    const dir = tempDir()
    const pidFile = path.join(dir, "app.pid")
    fs.writeFileSync(pidFile, "")
    fs.chmodSync(pidFile, 0o666)
    const server = track(
      startServer([`--pid-file=${pidFile}`, `--port=127.0.0.1:${await freePort()}`, "--", nodeExecutable, worker])
    )
    await server.waitForLine(/^starting new worker \d+$/)
    expect(fs.statSync(pidFile).mode & 0o777).toBe(0o644)
    expect(fs.readFileSync(pidFile, "utf8")).toBe(`${server.pid}\n`)
  }, 30_000)
})

describe("--envdir", () => {
  it("a FIFO there (or any file that is not a regular one) is skipped, never waited on", async () => {
    const dir = tempDir()
    const envdir = path.join(dir, "env")
    fs.mkdirSync(envdir)
    execFileSync("mkfifo", [path.join(envdir, "BLOCKS")])
    fs.writeFileSync(path.join(envdir, "FOO"), "bar\n")
    const server = track(
      startServer([`--envdir=${envdir}`, `--port=127.0.0.1:${await freePort()}`, "--", nodeExecutable, worker])
    )
    await server.waitForLine(/^starting new worker \d+$/, 5000)
    // The loop re-reads the envdir at a signal (Perl's wake): TERM must still be acted on.
    server.kill("SIGTERM")
    const exit = await exitWithin(server, 5000)
    expect(exit).toEqual({ code: 0, signal: null })
  }, 30_000)
})

describe("files that must be distinct", () => {
  it("--pid-file equal to --status-file is refused at start in one line (exit 255), touching nothing", async () => {
    const dir = tempDir()
    const file = path.join(dir, "app")
    const server = track(
      startServer([
        `--pid-file=${file}`,
        `--status-file=${path.join(dir, ".", "app")}`,
        `--port=127.0.0.1:${await freePort()}`,
        "--",
        nodeExecutable,
        worker
      ])
    )
    const exit = await exitWithin(server, 10_000)
    expect({ code: exit?.code, last: server.lines().at(-1) }).toEqual({
      code: 255,
      last: `--pid-file and --status-file name the same file (${path.join(dir, ".", "app")}); give each its own`
    })
    expect(fs.existsSync(file)).toBe(false)
  }, 30_000)
})

describe("bytes that are not UTF-8", () => {
  /** `bytes` as printf's format: octal escapes only. */
  const octal = (bytes: Buffer) => [...bytes].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("")

  it("in the worker's arguments, --pid-file, --path and --status-file reach the worker and the file system unchanged", async () => {
    const dir = tempDir()
    const latin1 = (text: string) => Buffer.from(text, "latin1")
    const bytes = {
      pid: Buffer.concat([Buffer.from(`${dir}/`), latin1("pid-\xe9")]),
      status: Buffer.concat([Buffer.from(`${dir}/`), latin1("status-\xe9")]),
      socket: Buffer.concat([Buffer.from(`${dir}/`), latin1("s\xe9.sock")]),
      arg: latin1("caf\xe9")
    }
    const out = path.join(dir, "out")
    const script = path.join(dir, "worker.sh")
    // What the worker received: its first argument, a NUL, then SERVER_STARTER_PORT.
    fs.writeFileSync(
      script,
      `#!/bin/sh\nprintf '%s\\0%s' "$1" "$SERVER_STARTER_PORT" > "$2.tmp"\nmv "$2.tmp" "$2"\nexec sleep 60\n`
    )
    fs.chmodSync(script, 0o755)
    // Node passes arguments to a child as UTF-8: the shell makes the bytes, then execs start_server.
    const [command, commandArgs] = commandFor(startServerBin, [])
    const server = track(
      startServer(
        [
          "-c",
          'exec "$@" --pid-file="$(printf "$PID")" --status-file="$(printf "$STATUS")" --path="$(printf "$SOCKET")" -- "$WORKER" "$(printf "$ARG")" "$OUT"',
          "sh",
          command,
          ...commandArgs
        ],
        {
          bin: "/bin/sh",
          env: {
            PID: octal(bytes.pid),
            STATUS: octal(bytes.status),
            SOCKET: octal(bytes.socket),
            ARG: octal(bytes.arg),
            WORKER: script,
            OUT: out
          }
        }
      )
    )
    const received = await waitFor("the worker's report", () => (fs.existsSync(out) ? fs.readFileSync(out) : undefined))
    expect(received).toEqual(Buffer.concat([bytes.arg, Buffer.from([0]), bytes.socket, Buffer.from("=3")]))
    await waitFor("the status file", () => (fs.existsSync(bytes.status) ? true : undefined))
    expect(fs.readFileSync(bytes.pid, "utf8")).toBe(`${server.pid}\n`)
    expect(fs.lstatSync(bytes.socket).isSocket()).toBe(true)
    server.kill("SIGTERM")
    expect(await exitWithin(server, 5000)).toEqual({ code: 0, signal: null })
    // Each removed at exit by its own name: nothing left but the test's files.
    expect(fs.readdirSync(dir).sort()).toEqual(["out", "worker.sh"])
  }, 30_000)

  it("a daemon (--daemonize) gets them too", async () => {
    const dir = tempDir()
    const pidFile = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from("pid-\xe9", "latin1")])
    const arg = Buffer.from("caf\xe9", "latin1")
    const out = path.join(dir, "out")
    const script = path.join(dir, "worker.sh")
    fs.writeFileSync(script, `#!/bin/sh\nprintf '%s' "$1" > "$2.tmp"\nmv "$2.tmp" "$2"\nexec sleep 60\n`)
    fs.chmodSync(script, 0o755)
    const [command, commandArgs] = commandFor(startServerBin, [])
    const foreground = await runToExit(
      [
        "-c",
        'exec "$@" --daemonize --log-file="$LOG" --port="$PORT" --pid-file="$(printf "$PID")" -- "$WORKER" "$(printf "$ARG")" "$OUT"',
        "sh",
        command,
        ...commandArgs
      ],
      {
        bin: "/bin/sh",
        env: {
          LOG: path.join(dir, "log"),
          PORT: `127.0.0.1:${await freePort()}`,
          PID: octal(pidFile),
          ARG: octal(arg),
          WORKER: script,
          OUT: out
        }
      }
    )
    expect(foreground.code).toBe(0)
    // Whatever its pid file is called (U+FFFD in place of the byte, before the fix), the daemon
    // stops (here, not through trackPids: onTestFinished runs after afterEach hooks).
    onTestFinished(async () => {
      for (const name of fs.readdirSync(dir, { encoding: "buffer" })) {
        if (!name.toString("latin1").startsWith("pid-")) continue
        const pid = Number(fs.readFileSync(Buffer.concat([Buffer.from(`${dir}/`), name]), "utf8"))
        if (!Number.isInteger(pid) || pid <= 1 || !isRunning(pid)) continue
        process.kill(pid, "SIGTERM")
        await waitFor(`daemon ${pid} to stop`, () => (isRunning(pid) ? undefined : true), 10_000).catch(() => {
          if (isRunning(pid)) process.kill(pid, "SIGKILL")
        })
      }
    })
    // Named by its bytes: a name with U+FFFD in their place would not be found.
    await waitFor(
      "the pid file",
      () => (fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8") !== "") || undefined
    )
    expect(await waitFor("the worker's report", () => (fs.existsSync(out) ? fs.readFileSync(out) : undefined))).toEqual(
      arg
    )
  }, 30_000)
})
