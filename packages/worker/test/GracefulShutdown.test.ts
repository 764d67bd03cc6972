/**
 * The drain, in one process: the servers listen on ephemeral loopback ports and the clients
 * are raw sockets, so the test sees exactly what a client would (a response, a FIN or a reset).
 */
import * as http from "node:http"
import * as http2 from "node:http2"
import * as net from "node:net"
import { afterEach, describe, expect, it, vi } from "vitest"
import { gracefulShutdown, track } from "../src/GracefulShutdown.js"

const servers: Array<net.Server> = []
afterEach(() => {
  for (const server of servers.splice(0)) server.close()
  vi.restoreAllMocks()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const listening = async <S extends net.Server>(server: S): Promise<number> => {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return (server.address() as net.AddressInfo).port
}

/** A raw client: what it received, and how the connection ended. */
const connect = (port: number) => {
  const socket = net.connect(port, "127.0.0.1")
  let received = ""
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString()
  })
  const ended = new Promise<"closed" | "reset">((resolve) => {
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNRESET" ? "reset" : "closed"))
    socket.on("close", () => resolve("closed"))
  })
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()))
  return { socket, connected, ended, received: () => received }
}

const request = (path = "/") => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`

/** An HTTP server answering `/slow` after 300 ms, anything else at once. */
const app = () =>
  http.createServer((req, res) => {
    if (req.url === "/slow") setTimeout(() => res.end("slow\n"), 300)
    else res.end("fast\n")
  })

describe("track(server).drain()", () => {
  it("answers a request on a connection accepted just before the drain, with Connection: close", async () => {
    const server = app()
    const drainable = track(server)
    const port = await listening(server)
    const client = connect(port)
    await client.connected
    await sleep(50) // accepted by the server, no request yet
    const drained = drainable.drain({ idleTimeout: 1000 })
    await sleep(200)
    client.socket.write(request())
    expect(await client.ended).toBe("closed")
    expect(client.received()).toMatch(/^HTTP\/1.1 200 OK\r\n/)
    expect(client.received()).toMatch(/\r\nConnection: close\r\n/i)
    expect(client.received()).toMatch(/fast\n$/)
    await drained
  })

  it("lets requests in flight finish, and stops accepting at once", async () => {
    const server = app()
    const drainable = track(server)
    const port = await listening(server)
    const client = connect(port)
    client.socket.write(request("/slow"))
    await sleep(100)
    const drained = drainable.drain()
    await sleep(20)
    // A new connection is no longer accepted by this server (another worker would take it).
    const late = connect(port)
    expect(await late.ended).toBe("closed")
    expect(late.received()).toBe("")
    expect(await client.ended).toBe("closed")
    expect(client.received()).toMatch(/\r\nConnection: close\r\n/i)
    expect(client.received()).toMatch(/slow\n$/)
    await drained
  })

  it("ends an idle keep-alive connection once it has been idle for idleTimeout, then resolves", async () => {
    const server = app()
    const drainable = track(server)
    const port = await listening(server)
    const client = connect(port)
    client.socket.write(request())
    await sleep(50)
    expect(client.received()).toMatch(/\r\nConnection: keep-alive\r\n/i)
    const started = Date.now()
    await drainable.drain({ idleTimeout: 300 })
    expect(await client.ended).toBe("closed")
    // Idle since its response, about 50 ms before the drain began.
    expect(Date.now() - started).toBeGreaterThanOrEqual(200)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it("answers the next request on a keep-alive connection whose response was under way, then closes it", async () => {
    // The headers of the first response promise keep-alive before the drain begins; the
    // client sends its next request the moment it has read that response.
    const server = http.createServer((req, res) => {
      if (req.url !== "/slow") return res.end("fast\n")
      res.writeHead(200, { "content-length": "5" })
      res.write("sl")
      setTimeout(() => res.end("ow\n"), 200)
    })
    const drainable = track(server)
    const port = await listening(server)
    const client = connect(port)
    let asked = false
    client.socket.on("data", () => {
      if (!asked && client.received().endsWith("slow\n")) {
        asked = true
        client.socket.write(request("/fast"))
      }
    })
    client.socket.write(request("/slow"))
    await sleep(50)
    const started = Date.now()
    await drainable.drain({ idleTimeout: 1000 })
    expect(await client.ended).toBe("closed")
    const responses = client.received().split("HTTP/1.1 200 OK").slice(1)
    expect(responses.length).toBe(2)
    expect(responses[0]).toMatch(/\r\nConnection: keep-alive\r\n/i)
    expect(responses[1]).toMatch(/\r\nConnection: close\r\n/i)
    expect(responses[1]).toMatch(/fast\n$/)
    // Closed by the second response, not by the idle timeout.
    expect(Date.now() - started).toBeLessThan(900)
  })

  it("destroys what is still open at the timeout", async () => {
    const server = http.createServer(() => {}) // never answers
    const drainable = track(server)
    const port = await listening(server)
    const client = connect(port)
    client.socket.write(request())
    await sleep(50)
    const started = Date.now()
    await drainable.drain({ timeout: 300 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    await client.ended
    expect(client.received()).toBe("")
  })

  it("HTTP/2: sends GOAWAY and lets the open stream finish", async () => {
    const server = http2.createServer()
    server.on("stream", (stream) => {
      setTimeout(() => {
        stream.respond({ ":status": 200 })
        stream.end("h2\n")
      }, 200)
    })
    const drainable = track(server)
    const port = await listening(server)
    const session = http2.connect(`http://127.0.0.1:${port}`)
    const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()))
    const stream = session.request({ ":path": "/" })
    let body = ""
    stream.on("data", (chunk: Buffer) => {
      body += chunk.toString()
    })
    const ended = new Promise<void>((resolve) => stream.on("end", () => resolve()))
    await sleep(50)
    const drained = drainable.drain()
    await goaway
    await ended
    expect(body).toBe("h2\n")
    await drained
    session.close()
  })
})

describe("gracefulShutdown(servers, { onDrained })", () => {
  // Neither the test runner's signals nor its lifeline: the shutdown starts by an emitted
  // SIGUSR2 or by shutdown().
  const options = { signal: "SIGUSR2", whenSupervisorExits: false } as const

  /** Replaces process.exit; answers the codes it was called with. */
  const stubExit = (onExit: () => void = () => {}) => {
    const codes: Array<number | string | null | undefined> = []
    vi.spyOn(process, "exit").mockImplementation(((code) => {
      codes.push(code)
      onExit()
    }) as typeof process.exit)
    return codes
  }

  it("runs onDrained once the request in flight is answered, and resolves once onDrained has", async () => {
    let answered = false
    const server = http.createServer((_req, res) => {
      res.once("finish", () => {
        answered = true
      })
      setTimeout(() => res.end("slow\n"), 300)
    })
    let answeredWhenDrained: boolean | undefined
    let poolClosed = false
    const { shutdown } = gracefulShutdown(server, {
      ...options,
      exit: false,
      onDrained: async () => {
        answeredWhenDrained = answered
        await sleep(50)
        poolClosed = true
      }
    })
    const port = await listening(server)
    const client = connect(port)
    client.socket.write(request())
    await sleep(50)
    process.emit("SIGUSR2", "SIGUSR2")
    await sleep(100)
    expect(answeredWhenDrained).toBeUndefined() // not called yet: the request is still in flight
    await shutdown() // the shutdown the signal started
    expect(answeredWhenDrained).toBe(true)
    expect(poolClosed).toBe(true)
    expect(await client.ended).toBe("closed")
    expect(client.received()).toMatch(/slow\n$/)
    expect(process.listenerCount("SIGUSR2")).toBe(0)
  })

  it("exits 0 after onDrained has finished", async () => {
    let poolClosedAtExit: boolean | undefined
    let poolClosed = false
    const codes = stubExit(() => {
      poolClosedAtExit = poolClosed
    })
    const server = app()
    const { shutdown } = gracefulShutdown(server, {
      ...options,
      onDrained: async () => {
        await sleep(50)
        poolClosed = true
      }
    })
    await listening(server)
    await shutdown()
    expect(codes).toEqual([0])
    expect(poolClosedAtExit).toBe(true)
  })

  it("exits 1 and reports the error when onDrained fails", async () => {
    const codes = stubExit()
    const reported = vi.spyOn(console, "error").mockImplementation(() => {})
    const failure = new Error("pool did not close")
    const server = app()
    const { shutdown } = gracefulShutdown(server, { ...options, onDrained: () => Promise.reject(failure) })
    await listening(server)
    await shutdown()
    expect(codes).toEqual([1])
    expect(reported).toHaveBeenCalledWith(failure)
  })

  it("with exit: false, rejects with onDrained's error and does not exit", async () => {
    const codes = stubExit()
    const failure = new Error("pool did not close")
    const server = app()
    const { shutdown } = gracefulShutdown(server, {
      ...options,
      exit: false,
      onDrained: () => Promise.reject(failure)
    })
    await listening(server)
    await expect(shutdown()).rejects.toBe(failure)
    expect(codes).toEqual([])
  })
})

describe("gracefulShutdown(...).add(server)", () => {
  it("drains a server created after the call too, before onDrained", async () => {
    const first = app()
    const { shutdown, add } = gracefulShutdown(first, {
      signal: "SIGUSR2",
      whenSupervisorExits: false,
      exit: false
    })
    await listening(first)
    let answered = false
    const later = http.createServer((_req, res) => {
      res.once("finish", () => {
        answered = true
      })
      setTimeout(() => res.end("late\n"), 200)
    })
    add(later)
    const port = await listening(later)
    const client = connect(port)
    client.socket.write(request())
    await sleep(50)
    await shutdown()
    // The shutdown waited for the request in flight on the added server, and closed it.
    expect(answered).toBe(true)
    expect(later.listening).toBe(false)
    expect(await client.ended).toBe("closed")
    expect(client.received()).toMatch(/late\n$/)
  })
})
