/**
 * systemd interop: start_server as a Type=notify service, LISTEN_FDS for socket-activation
 * workers, and sockets handed down by systemd socket activation.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  connects,
  fixtures,
  freePort,
  get,
  nodeExecutable,
  readIfExists,
  repoRoot,
  runToExit,
  startServer,
  startServerBin,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const track = trackSupervisors()

const worker = path.join(repoRoot, "examples/http-worker.mjs")
const socketActivate = "/usr/bin/systemd-socket-activate"

describe("systemd", () => {
  it("Type=notify: READY=1 once up, RELOADING=1/READY=1 around a restart, STOPPING=1; workers never see NOTIFY_SOCKET", async () => {
    const dir = tempDir()
    const notify = path.join(dir, "notify.sock")
    const receiver = spawn("python3", [path.join(fixtures, "notify-receiver.py"), notify, "15"], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let received = ""
    receiver.stdout.on("data", (chunk: Buffer) => {
      received += chunk.toString()
    })
    await waitFor("the receiver", () => (received.includes("listening") ? true : undefined))
    const marker = path.join(dir, "worker-env")
    const server = startServer(
      ["--interval=0", "--", "sh", "-c", `echo "NOTIFY_SOCKET=$NOTIFY_SOCKET" >> ${marker}; exec sleep 30`],
      { env: { NOTIFY_SOCKET: notify } }
    )
    track(server)
    await waitFor("READY=1", () => (received.includes("READY=1") ? true : undefined))
    server.kill("SIGHUP")
    await waitFor("the second READY=1", () => (received.split("READY=1").length > 2 ? true : undefined))
    server.kill("SIGTERM")
    await server.exited
    await waitFor("STOPPING=1", () => (received.includes("STOPPING=1") ? true : undefined))
    receiver.kill()
    const messages = received
      .split("\n")
      .filter((l) => l.startsWith("'"))
      .map((l) => l.replace(/MONOTONIC_USEC=\d+/, "MONOTONIC_USEC=N"))
    expect(messages).toEqual([
      "'READY=1\\nSTATUS=generation 1, 1 workers'",
      "'RELOADING=1\\nMONOTONIC_USEC=N\\nSTATUS=restarting'",
      expect.stringMatching(/^'READY=1\\nSTATUS=generation 2, \d workers'$/),
      "'STOPPING=1'"
    ])
    expect(readIfExists(marker)).toBe("NOTIFY_SOCKET=\nNOTIFY_SOCKET=\n")
  })

  it("--listen-fds gives workers LISTEN_FDS, LISTEN_FDNAMES and their own LISTEN_PID", async () => {
    const dir = tempDir()
    const port = await freePort()
    const out = path.join(dir, "env")
    const result = await runToExit([
      "--listen-fds",
      `--port=127.0.0.1:${port}`,
      `--path=${dir}/app.sock`,
      "--interval=0",
      "--",
      "sh",
      "-c",
      `echo "$$ $LISTEN_PID $LISTEN_FDS $LISTEN_FDNAMES $SERVER_STARTER_PORT" > ${out}; kill -TERM $PPID`
    ])
    expect(result.code).toBe(0)
    const [pid, listenPid, fds, names, ssp] = (readIfExists(out) ?? "").trim().split(" ")
    expect(listenPid).toBe(pid)
    expect(result.stderr).toContain(`starting new worker ${pid}`)
    expect(fds).toBe("2")
    expect(names).toBe(`127.0.0.1_${port}:${dir}/app.sock`)
    expect(ssp).toBe(`127.0.0.1:${port}=3;${dir}/app.sock=4`)
  })

  it("--listen-fds refuses =fd placements, which break LISTEN_FDS's shape", async () => {
    const result = await runToExit(["--listen-fds", "--port=127.0.0.1:1=5", "--", "true"])
    expect(result.code).toBe(255)
    expect(result.stderr.split("\n").at(-1)).toBe("--listen-fds cannot be combined with --port=…=fd")
  })

  it.skipIf(!fs.existsSync(socketActivate))("uses the sockets systemd socket activation hands down", async () => {
    const port = await freePort()
    const dir = tempDir()
    const pidFile = path.join(dir, "pid")
    const activator = spawn(
      socketActivate,
      [
        "-l",
        `127.0.0.1:${port}`,
        startServerBin,
        `--port=127.0.0.1:${port}`,
        `--pid-file=${pidFile}`,
        "--",
        nodeExecutable,
        worker
      ],
      { stdio: "ignore" }
    )
    try {
      // Until systemd-socket-activate listens, connections are refused.
      for (let i = 0; i < 100 && !(await connects({ port, host: "127.0.0.1" })); i++)
        await new Promise((r) => setTimeout(r, 50))
      // The first connection makes systemd-socket-activate exec start_server; it waits in the backlog.
      expect(await get(port)).toMatch(/^hello from generation 1, pid \d+\n$/)
      const supervisor = Number(readIfExists(pidFile))
      expect(supervisor).toBe(activator.pid)
      process.kill(supervisor, "SIGTERM")
      await new Promise((resolve) => activator.once("exit", resolve))
    } finally {
      activator.kill("SIGKILL")
    }
  })
})
