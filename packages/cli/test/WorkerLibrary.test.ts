/**
 * @starter/worker under the real start_server: the inherited sockets (TCP, unix, UDP,
 * TLS, HTTP/2), the backlog, readiness and the lifeline.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as http2 from "node:http2"
import * as https from "node:https"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  fixtures,
  freePort,
  get,
  isRunning,
  nodeExecutable,
  readIfExists,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { systemdNotifyMissing } from "./support/Perl.js"

const track = trackSupervisors()
const worker = path.join(fixtures, "library-worker.mjs")

const statusReady = (status: string) => () => (/^1:\d+\n$/.test(readIfExists(status) ?? "") ? true : undefined)

/** The listen(2) backlog of a TCP port, as `ss` reports it (Send-Q of a LISTEN socket). */
const backlogOf = (port: number): number => {
  const line = execFileSync("ss", ["-ltnH", `sport = :${port}`], { encoding: "utf8" }).trim()
  return Number(line.split(/\s+/)[2])
}

const overUnix = (socketPath: string) =>
  new Promise<string>((resolve, reject) => {
    http
      .get({ socketPath, path: "/", agent: false }, (res) => {
        let body = ""
        res.on("data", (c: Buffer) => {
          body += c.toString()
        })
        res.on("end", () => resolve(body))
      })
      .on("error", reject)
  })

describe("@starter/worker", () => {
  it("listenAll serves every TCP and unix socket, skips UDP, and keeps start_server's backlog", async () => {
    const dir = tempDir()
    const [tcp, udp] = [await freePort(), await freePort()]
    const unix = path.join(dir, "app.sock")
    const status = path.join(dir, "status")
    const server = track(
      startServer(
        [
          `--port=127.0.0.1:${tcp}`,
          `--port=127.0.0.1:u${udp}`,
          `--path=${unix}`,
          "--backlog=77",
          `--status-file=${status}`,
          "--ready=notify-fd",
          "--",
          nodeExecutable,
          worker
        ],
        { env: { WORKER_MODE: "all" } }
      )
    )
    await waitFor("the worker", statusReady(status))
    expect(await get(tcp)).toMatch(/^generation 1 pid \d+\n$/)
    expect(await overUnix(unix)).toMatch(/^generation 1 pid \d+\n$/)
    // A plain `listen({ fd })` would have set it to Node's 511.
    expect(backlogOf(tcp)).toBe(77)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })

  it("without --backlog, listen keeps the kernel's SOMAXCONN, start_server's default", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    track(
      startServer(
        [`--port=127.0.0.1:${port}`, `--status-file=${status}`, "--ready=notify-fd", "--", nodeExecutable, worker],
        { env: { WORKER_MODE: "one" } }
      )
    )
    await waitFor("the worker", statusReady(status))
    const somaxconn = Number(fs.readFileSync("/proc/sys/net/core/somaxconn", "utf8"))
    expect(backlogOf(port)).toBe(somaxconn)
  })

  it("listen(server, key) puts an https and an http2 server on the sockets they name", async () => {
    const dir = tempDir()
    const [a, b] = [await freePort(), await freePort()]
    const status = path.join(dir, "status")
    track(
      startServer(
        [
          `--port=127.0.0.1:${a}`,
          `--port=localhost:${b}`,
          `--status-file=${status}`,
          "--ready=notify-fd",
          "--",
          nodeExecutable,
          worker
        ],
        { env: { WORKER_MODE: "tls", HTTPS_KEY: `127.0.0.1:${a}`, H2_KEY: `localhost:${b}` } }
      )
    )
    await waitFor("the worker", statusReady(status))
    const overHttps = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: "127.0.0.1", port: a, rejectUnauthorized: false, agent: false }, (res) => {
          let body = ""
          res.on("data", (c: Buffer) => {
            body += c.toString()
          })
          res.on("end", () => resolve(body))
        })
        .on("error", reject)
    })
    expect(overHttps).toMatch(/^generation 1 pid \d+\n$/)
    const session = http2.connect(`https://localhost:${b}`, { rejectUnauthorized: false })
    const overH2 = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ":path": "/" })
      let body = ""
      stream.on("data", (c: Buffer) => {
        body += c.toString()
      })
      stream.on("end", () => resolve(body))
      stream.on("error", reject)
    })
    session.close()
    expect(overH2).toBe("h2 generation 1\n")
  })

  it("listen() without a key refuses to guess between several sockets, in one clear line", async () => {
    const [a, b] = [await freePort(), await freePort()]
    const server = track(
      startServer([`--port=127.0.0.1:${a}`, `--port=127.0.0.1:${b}`, "--", nodeExecutable, worker], {
        env: { WORKER_MODE: "one" }
      })
    )
    await server.waitForLine(
      new RegExp(
        `^NoSuchServerPort: start_server passed 2 sockets \\(127.0.0.1:${a}, 127.0.0.1:${b}\\): name one, or use listenAll$`
      )
    )
  })

  it.skipIf(systemdNotifyMissing())(
    "ready() reports on sd_notify too (with --ready=sd-notify it runs systemd-notify)",
    async () => {
      const dir = tempDir()
      const port = await freePort()
      const status = path.join(dir, "status")
      const server = track(
        startServer(
          [`--port=127.0.0.1:${port}`, `--status-file=${status}`, "--ready=sd-notify", "--", nodeExecutable, worker],
          { env: { WORKER_MODE: "all" } }
        )
      )
      await waitFor("the worker", statusReady(status))
      server.kill("SIGHUP")
      await waitFor("generation 2 alone", () => (/^2:\d+\n$/.test(readIfExists(status) ?? "") ? true : undefined))
    }
  )

  it("when start_server is SIGKILLed, onSupervisorExit fires and gracefulShutdown ends the worker", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const events = path.join(dir, "events")
    const server = track(
      startServer(
        [`--port=127.0.0.1:${port}`, `--status-file=${status}`, "--ready=notify-fd", "--", nodeExecutable, worker],
        { env: { WORKER_MODE: "orphan", EVENTS_FILE: events } }
      )
    )
    await waitFor("the worker", statusReady(status))
    const pid = Number(readIfExists(status)?.split(":")[1])
    // The inherited lifeline stays blocking (other workers, and their children, share it).
    const environ = readIfExists(`/proc/${pid}/environ`) ?? ""
    const lifeline = /(?:^|\0)STARTER_SUPERVISOR_FD=(\d+)/.exec(environ)?.[1]
    const flags = /^flags:\s+(\d+)$/m.exec(readIfExists(`/proc/${pid}/fdinfo/${lifeline}`) ?? "")?.[1]
    expect(Number.parseInt(flags ?? "", 8) & 0o4000).toBe(0)
    server.kill("SIGKILL")
    await waitFor("the worker to notice", () =>
      readIfExists(events) === `supervisor gone ${pid}\n` ? true : undefined
    )
    await waitFor("the worker to exit", () => (isRunning(pid) ? undefined : true), 5000)
  })
})
