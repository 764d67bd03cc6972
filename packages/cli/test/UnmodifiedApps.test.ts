/**
 * `node --import @starter/worker/register app.js` under the real start_server: apps that call
 * `listen(PORT)` and know nothing of start_server (node:http, https, http2, net, Express 5,
 * Fastify 5, Koa, NestJS) serve on its socket, report readiness, and drain on the stop
 * signal: 20 HUPs under load (5 on the matrix's other Node lines) lose no request. A listen on anything start_server does not hold
 * is the app's own, as without the loader.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as http2 from "node:http2"
import * as https from "node:https"
import * as net from "node:net"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  fixtures,
  freePort,
  get,
  getUnix,
  isRunning,
  nodeExecutable,
  repoRoot,
  startServer,
  statusLines,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { startLoad } from "./support/Load.js"

const track = trackSupervisors()
const apps = path.join(fixtures, "unmodified")
/** Where `--import @starter/worker/register` resolves (the cli package's devDependency). */
const cwd = path.join(repoRoot, "packages/cli")

/** 20 on the machine's Node; 5 on the matrix's other lines (cli-nodeNN), to keep the suite short. */
const restarts = process.env.STARTER_NODE === undefined ? 20 : 5

type Client = "http" | "https" | "http2" | "net"

interface Clients {
  readonly send: (i: number) => Promise<string>
  readonly close: () => void
}

const collect = (stream: NodeJS.ReadableStream, resolve: (body: string) => void) => {
  let body = ""
  stream.on("data", (chunk: Buffer) => {
    body += chunk.toString()
  })
  stream.on("end", () => resolve(body))
}

/** HTTPS GETs: even clients on a fresh connection each, odd ones on keep-alive connections. */
const httpsClients = (port: number): Clients => {
  const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false })
  const send = (i: number) =>
    new Promise<string>((resolve, reject) => {
      const options = { host: "127.0.0.1", port, rejectUnauthorized: false, timeout: 10_000 }
      const req = https.get({ ...options, agent: i % 2 === 0 ? false : agent }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`))
        collect(res, resolve)
        res.on("error", reject)
      })
      req.on("error", reject)
      req.on("timeout", () => req.destroy(new Error("timeout")))
    })
  return { send, close: () => agent.destroy() }
}

/**
 * HTTP/2: one session per client, replaced once the server sends GOAWAY (the drain), as a
 * browser does; the streams open on the old session complete there. A stream the client
 * opened while the GOAWAY was on its way is refused (REFUSED_STREAM): the server guarantees
 * it did not process it, and clients send it again on a new session (RFC 9113 §8.7), as this
 * one does. Any other error is a failed request.
 */
const http2Clients = (port: number): Clients => {
  const sessions = new Map<number, http2.ClientHttp2Session>()
  const session = (i: number) => {
    const current = sessions.get(i)
    if (current !== undefined && !current.closed && !current.destroyed) return current
    const fresh = http2.connect(`http://127.0.0.1:${port}`)
    fresh.on("error", () => {}) // each stream reports its own failure
    sessions.set(i, fresh)
    return fresh
  }
  const once = (i: number) =>
    new Promise<string>((resolve, reject) => {
      const stream = session(i).request({ ":path": "/" })
      stream.on("response", (headers) => {
        if (headers[":status"] !== 200) reject(new Error(`status ${headers[":status"]}`))
      })
      collect(stream, resolve)
      stream.on("error", reject)
      stream.setTimeout(10_000, () => stream.destroy(new Error("timeout")))
    })
  const refused = (error: unknown) => (error as Error).message.endsWith("NGHTTP2_REFUSED_STREAM")
  const send = (i: number): Promise<string> =>
    once(i).catch((error: unknown) => {
      if (!refused(error)) throw error
      sessions.get(i)?.close()
      return once(i)
    })
  return {
    send,
    close: () => {
      for (const s of sessions.values()) s.close()
    }
  }
}

/** Raw TCP: a line out, a line back, on a fresh connection each. */
const netClients = (port: number): Clients => ({
  send: () =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () => socket.write("hello\n"))
      collect(socket, (body) => (body === "" ? reject(new Error("closed without an answer")) : resolve(body)))
      socket.on("error", reject)
      socket.setTimeout(10_000, () => socket.destroy(new Error("timeout")))
    }),
  close: () => {}
})

const clientsFor = (client: Client, port: number): Clients | undefined => {
  switch (client) {
    case "http":
      return undefined // the load's own HTTP/1 clients
    case "https":
      return httpsClients(port)
    case "http2":
      return http2Clients(port)
    case "net":
      return netClients(port)
  }
}

interface App {
  readonly name: string
  readonly file: string
  readonly client: Client
  /** How the worker reports readiness. */
  readonly ready: "notify-fd" | "ipc"
  /** How the hook is loaded. */
  readonly preload: "--import" | "--require"
}

const cases: ReadonlyArray<App> = [
  { name: "node:http", file: "http.mjs", client: "http", ready: "notify-fd", preload: "--import" },
  { name: "https", file: "https.mjs", client: "https", ready: "notify-fd", preload: "--import" },
  { name: "http2", file: "http2.mjs", client: "http2", ready: "notify-fd", preload: "--import" },
  { name: "net", file: "net.mjs", client: "net", ready: "notify-fd", preload: "--import" },
  { name: "express", file: "express.mjs", client: "http", ready: "notify-fd", preload: "--import" },
  { name: "fastify", file: "fastify.mjs", client: "http", ready: "notify-fd", preload: "--import" },
  { name: "koa", file: "koa.mjs", client: "http", ready: "ipc", preload: "--require" },
  { name: "nest", file: "nest.mjs", client: "http", ready: "ipc", preload: "--import" }
]

/** The status file names generation `g` alone: every older worker has exited. */
/**
 * One generation alone, `g` or a later one: a start that fails under a loaded machine takes a
 * generation number of its own (as in Perl), so the last HUP's generation may be past `g`.
 */
const alone = (status: string, g: number) => () => {
  const lines = statusLines(status)
  return lines.length === 1 && Number(lines[0]?.split(":")[0]) >= g ? true : undefined
}

describe("an unmodified app under `node --import @starter/worker/register`", () => {
  it.each(cases)(
    `$name ($preload, --ready=$ready): ${restarts} HUPs under load, not one request failed or reset`,
    async (app) => {
      const dir = tempDir()
      const port = await freePort()
      const status = path.join(dir, "status")
      const server = track(
        startServer(
          [
            `--port=127.0.0.1:${port}`,
            `--status-file=${status}`,
            `--ready=${app.ready}`,
            "--",
            nodeExecutable,
            app.preload,
            "@starter/worker/register",
            path.join(apps, app.file)
          ],
          { cwd, env: { PORT: String(port) } }
        )
      )
      await waitFor("generation 1", alone(status, 1), 20_000)
      // One socket on the port, start_server's: the app bound none of its own (Fastify's
      // second binding for `localhost`, on ::1, included).
      expect(
        execFileSync("ss", ["-ltnH", `sport = :${port}`], { encoding: "utf8" })
          .trim()
          .split("\n")
      ).toHaveLength(1)
      const clients = clientsFor(app.client, port)
      const load = startLoad(port, {
        clients: 2,
        maxRequestsPerClient: Number.POSITIVE_INFINITY,
        ...(clients === undefined ? {} : { send: clients.send })
      })
      const retired = () => server.lines().filter((line) => line.startsWith("new worker is now running")).length
      let result: Awaited<ReturnType<typeof load.stop>>
      // The generation serving when the HUPs begin: 1, unless its start failed on a loaded machine.
      let first: string | undefined
      try {
        await waitFor("some answers", () => (load.ok() >= 4 ? true : undefined))
        first = statusLines(status)[0]?.split(":")[0]
        // Each HUP once the previous generation is ready; the old ones drain meanwhile.
        for (let g = 2; g <= restarts + 1; g++) {
          server.kill("SIGHUP")
          await waitFor(`generation ${g} ready`, () => (retired() === g - 1 ? true : undefined), 20_000)
        }
        await waitFor(
          () =>
            `generation ${restarts + 1} (or a later one) alone (status: ${JSON.stringify(statusLines(status))}, log: ${JSON.stringify(server.lines().slice(-6))})`,
          alone(status, restarts + 1),
          20_000
        )
        const before = load.ok()
        await waitFor("answers from the last generation", () => (load.ok() >= before + 8 ? true : undefined))
      } finally {
        result = await load.stop()
        clients?.close()
      }
      const { ok, failed, reset, answeredBy } = result
      expect({ failed, reset }).toEqual({ failed: [], reset: 0 })
      expect(ok).toBeGreaterThan(restarts)
      const answers = [...answeredBy].map((line) => /^(\S+) generation (\d+) pid \d+$/.exec(line)?.slice(1, 3))
      expect(answers.every((match) => match?.[0] === app.name)).toBe(true)
      // The load crossed the restarts: the first generation and the last one answered.
      const last = statusLines(status)[0]?.split(":")[0]
      expect(answers.map((match) => match?.[1])).toEqual(expect.arrayContaining([first, last]))
      server.kill("SIGTERM")
      expect((await server.exited).code).toBe(0)
      // Every old worker left because the stop signal drained it, none was killed.
      expect(server.lines().filter((line) => /died, status:(?!0$)/.test(line))).toEqual([])
    },
    120_000
  )
})

/** The pids that hold a TCP port in LISTEN, as `ss` reports them. */
const listeners = (port: number): ReadonlyArray<number> =>
  [...execFileSync("ss", ["-ltnpH", `sport = :${port}`], { encoding: "utf8" }).matchAll(/pid=(\d+)/g)].map((m) =>
    Number(m[1])
  )

const workerPid = (status: string): number => Number(statusLines(status)[0]?.split(":")[1])

const hook = (app: string) => [nodeExecutable, "--import", "@starter/worker/register", path.join(apps, app)]

describe("@starter/worker/register on a unix socket", () => {
  it("a listen on the path start_server bound (--path) uses its socket, through a restart", async () => {
    const dir = tempDir()
    const socket = path.join(dir, "app.sock")
    const status = path.join(dir, "status")
    const server = track(
      startServer([`--path=${socket}`, `--status-file=${status}`, "--ready=notify-fd", "--", ...hook("unix.mjs")], {
        cwd,
        env: { SOCKET: socket }
      })
    )
    await waitFor("generation 1", alone(status, 1), 20_000)
    expect(await getUnix(socket)).toBe(`unix generation 1 address ${JSON.stringify(socket)}\n`)
    server.kill("SIGHUP")
    await waitFor("generation 2 alone", alone(status, 2), 20_000)
    expect(await getUnix(socket)).toBe(`unix generation 2 address ${JSON.stringify(socket)}\n`)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })
})

describe("what @starter/worker/register leaves alone", () => {
  it("a listen on a port start_server does not hold is the app's own, as without the loader", async () => {
    const dir = tempDir()
    const [held, own, busy] = [await freePort(), await freePort(), await freePort()]
    const status = path.join(dir, "status")
    const unused = path.join(dir, "unused.sock")
    // Something else holds `busy`: the app's listen there fails as it would anywhere.
    const other = net.createServer()
    await new Promise<void>((resolve) => other.listen(busy, "127.0.0.1", resolve))
    try {
      const server = track(
        startServer(
          [
            `--port=127.0.0.1:${held}`,
            `--path=${unused}`,
            `--status-file=${status}`,
            "--ready=notify-fd",
            "--",
            ...hook("own-ports.mjs")
          ],
          { cwd, env: { PORT: String(held), OWN_PORT: String(own), BUSY_PORT: String(busy) } }
        )
      )
      await waitFor("generation 1", alone(status, 1), 20_000)
      const pid = workerPid(status)
      // Three lines, in whichever order the listens completed.
      const output = await waitFor("the app's report", () =>
        server.stdout().split("\n").length > 3 ? server.stdout() : undefined
      )
      expect(output).toContain(`own ${own}\n`)
      expect(output).toContain("busy EADDRINUSE\n")
      const ephemeral = Number(/^ephemeral (\d+)$/m.exec(output)?.[1])
      expect(ephemeral).toBeGreaterThan(0)
      expect(await get(held)).toBe(`held ${pid}\n`)
      expect(await get(own)).toBe(`own ${pid}\n`)
      expect(await get(ephemeral)).toBe(`ephemeral ${pid}\n`)
      // start_server's socket is shared with the supervisor; the others the worker bound itself.
      expect(listeners(held)).toEqual(expect.arrayContaining([server.pid, pid]))
      expect(listeners(own)).toEqual([pid])
      expect(listeners(ephemeral)).toEqual([pid])
      // The app serves one of start_server's two sockets: ready all the same, and it says so.
      expect(server.lines()).toContain(
        `@starter/worker/register: ready, but nothing listens on ${unused} (from start_server)`
      )
    } finally {
      other.close()
    }
  })

  it("outside start_server (no SERVER_STARTER_PORT) it changes nothing: the app binds its port", async () => {
    const port = await freePort()
    const env: Record<string, string | undefined> = { ...process.env, PORT: String(port) }
    delete env.SERVER_STARTER_PORT
    const child = spawn(hook("http.mjs")[0] ?? "", hook("http.mjs").slice(1), { cwd, env, stdio: "ignore" })
    try {
      const body = await waitFor("the app", () => (listeners(port).length > 0 ? true : undefined))
      expect(body).toBe(true)
      expect(listeners(port)).toEqual([child.pid])
      expect(await get(port)).toBe(`node:http generation undefined pid ${child.pid}\n`)
    } finally {
      child.kill("SIGKILL")
    }
  })
})

describe("@starter/worker/register and bad input", () => {
  it("a SERVER_STARTER_PORT that does not parse: one line and exit 1, before the app runs", () => {
    const [node, ...args] = hook("http.mjs")
    const run = spawnSync(node ?? "", args, {
      cwd,
      env: { ...process.env, SERVER_STARTER_PORT: "3000=x", PORT: "1" },
      encoding: "utf8",
      timeout: 10_000
    })
    expect({ status: run.status, stderr: run.stderr }).toEqual({
      status: 1,
      stderr: '@starter/worker/register: invalid SERVER_STARTER_PORT entry: "3000=x" (expected KEY=FD)\n'
    })
  })
})

describe("@starter/worker/register and the supervisor", () => {
  it("runs examples/register-app.mjs as its comment says, through a restart", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const server = track(
      startServer(
        [
          `--port=127.0.0.1:${port}`,
          `--status-file=${status}`,
          "--ready=notify-fd",
          "--",
          nodeExecutable,
          "--import",
          "@starter/worker/register",
          "register-app.mjs"
        ],
        { cwd: path.join(repoRoot, "examples"), env: { PORT: String(port) } }
      )
    )
    await waitFor("generation 1", alone(status, 1), 20_000)
    expect(JSON.parse(await get(port))).toMatchObject({ hello: "world", generation: 1 })
    server.kill("SIGHUP")
    await waitFor("generation 2 alone", alone(status, 2), 20_000)
    expect(JSON.parse(await get(port))).toMatchObject({ hello: "world", generation: 2 })
    expect(server.stdout()).toBe(`listening on ${port}\nlistening on ${port}\n`)
  })

  it("drains on the signal STARTER_STOP_SIGNAL names (--signal-on-hup=USR1)", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const server = track(
      startServer(
        [
          `--port=127.0.0.1:${port}`,
          `--status-file=${status}`,
          "--ready=notify-fd",
          "--signal-on-hup=USR1",
          "--",
          ...hook("http.mjs")
        ],
        { cwd, env: { PORT: String(port), STARTER_STOP_SIGNAL: "USR1" } }
      )
    )
    await waitFor("generation 1", alone(status, 1), 20_000)
    const old = workerPid(status)
    server.kill("SIGHUP")
    await waitFor("generation 2 alone", alone(status, 2), 20_000)
    expect(server.lines()).toContain(`old worker ${old} died, status:0`)
    expect(await get(port)).toMatch(/^node:http generation 2 /)
  })

  it("when start_server is SIGKILLed, the worker drains and exits (the lifeline)", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const server = track(
      startServer(
        [`--port=127.0.0.1:${port}`, `--status-file=${status}`, "--ready=notify-fd", "--", ...hook("http.mjs")],
        {
          cwd,
          env: { PORT: String(port) }
        }
      )
    )
    await waitFor("generation 1", alone(status, 1), 20_000)
    const pid = workerPid(status)
    server.kill("SIGKILL")
    await waitFor("the worker to exit", () => (isRunning(pid) ? undefined : true), 10_000)
  })
})
