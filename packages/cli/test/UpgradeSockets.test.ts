/**
 * `start_server upgrade` hands over every kind of listening socket: TCP, UDP and unix ones it
 * bound, and those systemd's socket activation passed down. Through SIGUSR2 and the pid file
 * (no control socket), so that it runs under Bun as well as Node.
 */
import * as dgram from "node:dgram"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  commandFor,
  fixtures,
  freePort,
  get,
  getUnix,
  isRunning,
  nodeExecutable,
  type Running,
  readIfExists,
  runToExit,
  startServer,
  startServerBin,
  tempDir,
  trackPids,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const track = trackSupervisors()
/** New supervisors are nobody's child here: each test stops the ones it made. */
const successors = trackPids()

const worker = path.join(fixtures, "every-socket-worker.mjs")
const socketActivate = "/usr/bin/systemd-socket-activate"

/** One datagram to `port`, and the answer. */
const askUdp = (port: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const client = dgram.createSocket("udp4")
    const timer = setTimeout(() => {
      client.close()
      reject(new Error(`no answer on udp ${port}`))
    }, 10_000)
    client.once("message", (message) => {
      clearTimeout(timer)
      client.close()
      resolve(message.toString())
    })
    client.send("ping", port, "127.0.0.1")
  })

/** SIGUSR2 to `server`; answers the new supervisor's pid once the pid file names it and the old one has exited. */
const upgradeBySignal = async (server: Running, pidFile: string): Promise<number> => {
  server.kill("SIGUSR2")
  const pid = await waitFor("a new pid in the pid file", () => {
    const now = Number(readIfExists(pidFile))
    return now > 0 && now !== server.pid ? now : undefined
  })
  successors.add(pid)
  expect((await server.exited).code).toBe(0)
  return pid
}

const generation = /^hello from generation (\d+), pid \d+\n$/
const generationOf = (answer: string) => Number(generation.exec(answer)?.[1])

describe("start_server upgrade hands over every kind of socket", () => {
  it("TCP, UDP and unix sockets it bound: the new supervisor's workers answer on each; the socket file stays, and goes at --stop", async () => {
    const dir = tempDir()
    const [tcp, udp] = [await freePort(), await freePort()]
    const sock = path.join(dir, "app.sock")
    const pidFile = path.join(dir, "pid")
    const server = track(
      startServer([
        `--port=127.0.0.1:${tcp}`,
        `--port=127.0.0.1:u${udp}`,
        `--path=${sock}`,
        `--pid-file=${pidFile}`,
        "--ready=notify-fd",
        "--",
        nodeExecutable,
        worker
      ])
    )
    // Connections wait in the backlog, a datagram in the socket's buffer, until the worker serves.
    await server.waitForLine(/^starting new worker \d+$/)
    expect(generationOf(await get(tcp))).toBe(1)
    expect(generationOf(await askUdp(udp))).toBe(1)
    expect(generationOf(await getUnix(sock))).toBe(1)
    const inode = fs.statSync(sock).ino

    const pid = await upgradeBySignal(server, pidFile)
    expect(generationOf(await get(tcp))).toBe(2)
    expect(generationOf(await askUdp(udp))).toBe(2)
    expect(generationOf(await getUnix(sock))).toBe(2)
    // The same socket, never bound again.
    expect(fs.statSync(sock).ino).toBe(inode)

    const stop = await runToExit(["--stop", `--pid-file=${pidFile}`])
    expect(stop.code).toBe(0)
    expect(isRunning(pid)).toBe(false)
    expect(fs.existsSync(sock)).toBe(false)
    expect(fs.existsSync(pidFile)).toBe(false)
  }, 60_000)

  it.skipIf(!fs.existsSync(socketActivate))(
    "sockets systemd passed down: the new supervisor serves on them, and leaves their files to systemd",
    async () => {
      const dir = tempDir()
      const port = await freePort()
      const sock = path.join(dir, "app.sock")
      const pidFile = path.join(dir, "pid")
      // systemd-socket-activate binds, then execs start_server (on this suite's runtime) on the
      // first connection: the same pid.
      const [program, args] = commandFor(startServerBin, [
        `--pid-file=${pidFile}`,
        "--ready=notify-fd",
        "--",
        nodeExecutable,
        worker
      ])
      const server = track(
        startServer([`--listen=127.0.0.1:${port}`, `--listen=${sock}`, program, ...args], { bin: socketActivate })
      )
      await server.waitForLine(/^Listening on /)
      expect(generationOf(await get(port))).toBe(1)
      await server.waitForLine(/^starting new worker \d+$/)

      const pid = await upgradeBySignal(server, pidFile)
      expect(generationOf(await get(port))).toBe(2)
      expect(generationOf(await getUnix(sock))).toBe(2)

      const stop = await runToExit(["--stop", `--pid-file=${pidFile}`])
      expect(stop.code).toBe(0)
      expect(isRunning(pid)).toBe(false)
      // systemd made the socket file: it stays (systemd removes it when the unit stops).
      expect(fs.existsSync(sock)).toBe(true)
    },
    60_000
  )
})
