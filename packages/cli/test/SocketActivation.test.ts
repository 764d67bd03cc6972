/**
 * systemd socket activation with real processes: `systemd-socket-activate` binds, waits for a
 * first connection and execs start_server with LISTEN_FDS (it accepts nothing itself).
 */
import * as dgram from "node:dgram"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  connects,
  freePort,
  get,
  getUnix,
  nodeExecutable,
  type Running,
  readIfExists,
  repoRoot,
  startServer,
  startServerBin,
  tempDir,
  trackSupervisors
} from "./support/Harness.js"

const track = trackSupervisors()

const worker = path.join(repoRoot, "examples/http-worker.mjs")
const socketActivate = "/usr/bin/systemd-socket-activate"

/** `systemd-socket-activate ARGS…`, tracked: it becomes start_server (same pid) once activated. */
const activate = (args: ReadonlyArray<string>): Running => track(startServer(args, { bin: socketActivate }))

describe.skipIf(!fs.existsSync(socketActivate))(
  "socket activation (needs systemd-socket-activate, Debian's systemd)",
  () => {
    it("with no --port, adopts every passed socket under its own address; a HUP restarts on them", async () => {
      const dir = tempDir()
      const port = await freePort()
      const sock = path.join(dir, "app.sock")
      const pidFile = path.join(dir, "pid")
      // The unix socket comes first (fd 3): workers still get the ports first, as with --port/--path.
      const server = activate([
        `--listen=${sock}`,
        `--listen=127.0.0.1:${port}`,
        "--fdname=app:web",
        startServerBin,
        `--pid-file=${pidFile}`,
        "--",
        nodeExecutable,
        worker
      ])
      await server.waitForLine(new RegExp(`^Listening on 127\\.0\\.0\\.1:${port} as 4\\.$`))
      // The first connection makes systemd-socket-activate exec start_server; it waits in the backlog.
      const first = await get(port)
      expect(first).toMatch(/^hello from generation 1, pid \d+\n$/)
      expect(Number(readIfExists(pidFile))).toBe(server.pid)
      const served = await server.waitForLine(/serving SERVER_STARTER_PORT=/)
      expect(served.slice(served.indexOf("=") + 1)).toBe(`127.0.0.1:${port}=3;${sock}=4`)
      expect(await getUnix(sock)).toMatch(/^hello from generation 1, pid \d+\n$/)

      const oldPid = Number(/pid (\d+)/.exec(first)![1])
      server.kill("SIGHUP")
      await server.waitForLine(new RegExp(`^old worker ${oldPid} died, status:`))
      expect(await get(port)).toMatch(/^hello from generation 2, pid \d+\n$/)
      expect(await getUnix(sock)).toMatch(/^hello from generation 2, pid \d+\n$/)

      server.kill("SIGTERM")
      expect((await server.exited).code).toBe(0)
    })

    it("adopts a UDP socket (SO_TYPE) under Perl's key, without the u", async () => {
      const dir = tempDir()
      const port = await freePort()
      const out = path.join(dir, "env")
      const server = activate([
        "--datagram",
        `--listen=127.0.0.1:${port}`,
        startServerBin,
        "--",
        "sh",
        "-c",
        `echo "$SERVER_STARTER_PORT" > ${out}; kill -TERM $PPID`
      ])
      await server.waitForLine(/^Listening on /)
      // A datagram is what activates a datagram socket.
      const client = dgram.createSocket("udp4")
      await new Promise<void>((resolve, reject) =>
        client.send("ping", port, "127.0.0.1", (error) => (error ? reject(error) : resolve()))
      )
      client.close()
      expect((await server.exited).code).toBe(0)
      expect(readIfExists(out)).toBe(`127.0.0.1:${port}=3\n`)
    })

    it.each([
      {
        name: "a --port that matches no passed socket",
        listen: (port: number, _other: number) => [`127.0.0.1:${port}`],
        options: (_port: number, other: number) => [`--port=127.0.0.1:${other}`],
        message: (port: number, other: number) =>
          `--port=127.0.0.1:${other} matches no socket passed by systemd (passed: 127.0.0.1:${port} on fd 3)`
      },
      {
        name: "a passed socket that no --port names",
        listen: (port: number, other: number) => [`127.0.0.1:${port}`, `127.0.0.1:${other}`],
        options: (port: number, _other: number) => [`--port=127.0.0.1:${port}`],
        message: (_port: number, other: number) =>
          `systemd passed 127.0.0.1:${other} on fd 4, which no --port or --path names (name every passed socket, or none to adopt them all)`
      }
    ])("refuses $name with one line and exit 255, before any file is written", async (c) => {
      const dir = tempDir()
      const port = await freePort()
      const other = await freePort()
      const pidFile = path.join(dir, "pid")
      const logFile = path.join(dir, "log")
      const server = activate([
        ...c.listen(port, other).map((address) => `--listen=${address}`),
        startServerBin,
        ...c.options(port, other),
        `--pid-file=${pidFile}`,
        `--log-file=${logFile}`,
        "--",
        nodeExecutable,
        worker
      ])
      await server.waitForLine(new RegExp(`^Listening on 127\\.0\\.0\\.1:${port} as 3\\.$`))
      // A bare connection activates it; start_server then refuses before serving anything.
      expect(await connects({ host: "127.0.0.1", port })).toBe(true)
      const { code } = await server.exited
      expect(code).toBe(255)
      const own = server.lines().filter((line) => !/^(Listening on|Communication attempt|Execing) /.test(line))
      expect(own).toEqual([c.message(port, other)])
      expect(fs.existsSync(pidFile)).toBe(false)
      expect(fs.existsSync(logFile)).toBe(false)
    })
  }
)
