import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ControlServer } from "@starter/core"
import * as Handover from "@starter/platform-shared/Handover"
import * as NodeControlServer from "@starter/platform-shared/NodeControlServer"
import { Effect, Exit, Fiber, Layer, Queue, Schedule, Scope, Stream } from "effect"
import * as NodeStarterServices from "../src/NodeStarterServices.js"

/** A client: the lines it received, and whether the server has closed the connection. */
const connect = (socketPath: string, { allowHalfOpen = false } = {}) =>
  Effect.async<{
    socket: net.Socket
    lines: () => ReadonlyArray<string>
    closed: () => boolean
    ended: Effect.Effect<void>
  }>((resume) => {
    // allowHalfOpen: a client that keeps its side open after the server's end (as a raw one does).
    const socket = net.connect({ path: socketPath, allowHalfOpen })
    let text = ""
    let closed = false
    const ended = new Promise<void>((resolve) => socket.once("end", () => resolve()))
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString()
    })
    socket.on("end", () => {
      closed = true
    })
    socket.on("error", () => {})
    socket.once("connect", () =>
      resume(
        Effect.succeed({
          socket,
          lines: () => text.split("\n").filter(Boolean),
          closed: () => closed,
          ended: Effect.promise(() => ended)
        })
      )
    )
  })

const socketPathIn = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "control-")), "c.sock")

/** Polls `check` until it holds (a client's lines arrive in their own time). */
const eventually = (check: () => boolean) =>
  Effect.repeat(Effect.sync(check), { until: (ok) => ok, schedule: Schedule.spaced("10 millis") })

describe("NodeControlServer", () => {
  // Bound by the runtime (as under Bun), and bound here to be listened on by descriptor (a socket that can be handed over).
  it.scopedLive.each([
    ["bound by the runtime", false],
    ["listened on by descriptor", true]
  ] as const)(
    "closes a connection that does nothing for the idle timeout, never one with a request in progress (%s)",
    ([, byFd]) =>
      Effect.gen(function* () {
        const socketPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "control-")), "c.sock")
        const server = yield* Effect.provide(
          ControlServer.ControlServer,
          NodeControlServer.layerWith({ idleTimeoutMs: 200, acceptsOnInheritedSocket: byFd }).pipe(
            Layer.provide(NodeStarterServices.libcLayer)
          )
        )
        // `wait` never answers (as a subscription that sees no event); anything else is answered at once.
        yield* server.listen(socketPath, (line) => (line === "wait" ? Stream.never : Stream.make(`re:${line}`)))
        const idle = yield* connect(socketPath)
        const waiting = yield* connect(socketPath)
        waiting.socket.write("wait\n")
        const answered = yield* connect(socketPath)
        answered.socket.write("ping\n")
        yield* Effect.sleep("600 millis")
        expect(idle.closed()).toBe(true)
        expect(idle.lines()).toEqual([
          JSON.stringify({ v: 1, id: null, ok: false, error: "idle for 0.2 s; closing the connection" })
        ])
        expect(waiting.closed()).toBe(false)
        // Its request answered, a connection that then does nothing is idle too.
        expect(answered.lines()[0]).toBe("re:ping")
        expect(answered.closed()).toBe(true)
        for (const client of [idle, waiting, answered]) client.socket.destroy()
      })
  )
})

describe("NodeControlServer, hostile clients", () => {
  it.scopedLive("a client that drips bytes with no newline is idle: closed at the idle timeout (slowloris)", () =>
    Effect.gen(function* () {
      const socketPath = socketPathIn()
      const server = yield* Effect.provide(
        ControlServer.ControlServer,
        NodeControlServer.layerWith({ idleTimeoutMs: 300 }).pipe(Layer.provide(NodeStarterServices.libcLayer))
      )
      yield* server.listen(socketPath, (line) => Stream.make(`re:${line}`))
      const client = yield* connect(socketPath)
      const drip = setInterval(() => client.socket.write("x"), 50)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(drip)))
      yield* Effect.timeoutFail(eventually(client.closed), {
        duration: "3 seconds",
        onTimeout: () => new Error("a drip-feeding client was never closed")
      })
      clearInterval(drip)
      expect(client.lines()).toEqual([
        JSON.stringify({ v: 1, id: null, ok: false, error: "idle for 0.3 s; closing the connection" })
      ])
      client.socket.destroy()
    })
  )

  it.live("clients refused past the connection limit that never close their side do not hold the close", () =>
    Effect.gen(function* () {
      const socketPath = socketPathIn()
      const scope = yield* Scope.make()
      const server = yield* Effect.provide(
        ControlServer.ControlServer,
        NodeControlServer.layerWith({ idleTimeoutMs: 60_000 }).pipe(Layer.provide(NodeStarterServices.libcLayer))
      )
      yield* Scope.extend(
        server.listen(socketPath, (line) => Stream.make(`re:${line}`)),
        scope
      )
      const clients = yield* Effect.forEach(
        Array.from({ length: NodeControlServer.maxConnections + 3 }),
        () => connect(socketPath, { allowHalfOpen: true }),
        { concurrency: 16 }
      )
      const refusedCount = () => clients.filter((c) => c.lines().some((l) => l.includes("too many"))).length
      yield* eventually(() => refusedCount() === 3)
      // The refused clients keep their sockets open, and so do the others: the close cuts them off.
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      const closed = yield* Effect.timeoutOption(Fiber.await(closing), "5 seconds")
      for (const client of clients) client.socket.destroy()
      expect(closed._tag).toBe("Some")
    })
  )
})

describe("NodeControlServer, closing", () => {
  const serverLayer = (byFd = true) =>
    NodeControlServer.layerWith({ idleTimeoutMs: 60_000, acceptsOnInheritedSocket: byFd }).pipe(
      Layer.provide(NodeStarterServices.libcLayer)
    )

  // A subscription's last events are queued for it in the same step that ends the supervisor:
  // its connection must not end before they are written.
  it.live.each([
    ["bound by the runtime", false],
    ["listened on by descriptor", true]
  ] as const)("a reply stream in progress gets out what it holds before its connection ends (%s)", ([, byFd]) =>
    Effect.gen(function* () {
      const socketPath = socketPathIn()
      const queue = yield* Queue.unbounded<string>()
      const scope = yield* Scope.make()
      const server = yield* Effect.provide(ControlServer.ControlServer, serverLayer(byFd))
      yield* Scope.extend(
        server.listen(socketPath, () => Stream.takeWhile(Stream.fromQueue(queue), (line) => line !== "end")),
        scope
      )
      const client = yield* connect(socketPath)
      client.socket.write("subscribe\n")
      yield* Queue.offer(queue, "first")
      yield* eventually(() => client.lines().length === 1)
      const last = Array.from({ length: 100 }, (_, i) => `last ${i}`)
      yield* Queue.offerAll(queue, [...last, "end"])
      yield* Scope.close(scope, Exit.void)
      yield* client.ended
      expect(client.lines()).toEqual(["first", ...last])
      client.socket.destroy()
    })
  )

  it.live("a stream that ends only when closing is told to, and says its last line", () =>
    Effect.gen(function* () {
      const socketPath = socketPathIn()
      const scope = yield* Scope.make()
      const server = yield* Effect.provide(ControlServer.ControlServer, serverLayer())
      yield* Scope.extend(
        server.listen(socketPath, (_, closing) =>
          Stream.concat(Stream.make("following"), Stream.fromEffect(Effect.as(closing, "closing")))
        ),
        scope
      )
      const client = yield* connect(socketPath)
      client.socket.write("follow\n")
      yield* eventually(() => client.lines().length === 1)
      yield* Scope.close(scope, Exit.void)
      yield* client.ended
      expect(client.lines()).toEqual(["following", "closing"])
      client.socket.destroy()
    })
  )

  it.live("a client that reads nothing holds the close only for a bounded time", () =>
    Effect.gen(function* () {
      const socketPath = socketPathIn()
      const scope = yield* Scope.make()
      const server = yield* Effect.provide(ControlServer.ControlServer, serverLayer())
      yield* Scope.extend(
        server.listen(socketPath, () => Stream.repeatValue("x".repeat(1024))),
        scope
      )
      const client = yield* connect(socketPath)
      client.socket.write("flood\n")
      yield* eventually(() => client.lines().length > 0)
      // Reads nothing more: the server's writes soon wait for it.
      client.socket.pause()
      yield* Effect.sleep("200 millis")
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      const closed = yield* Effect.timeoutOption(Fiber.await(closing), "5 seconds")
      expect(closed._tag).toBe("Some")
      client.socket.destroy()
    })
  )
})

describe("NodeControlServer, handed over (start_server upgrade)", () => {
  const layerFor = (handover: Handover.Handover, byFd: boolean, adopted?: number) =>
    NodeControlServer.layerWith({ idleTimeoutMs: 60_000, handover, acceptsOnInheritedSocket: byFd, adopted }).pipe(
      Layer.provide(NodeStarterServices.libcLayer)
    )
  const answering = (who: string) => () => Stream.make(who)
  const ask = (socketPath: string) =>
    Effect.gen(function* () {
      const client = yield* connect(socketPath)
      client.socket.write("who\n")
      yield* eventually(() => client.lines().length > 0)
      client.socket.destroy()
      return client.lines()[0]
    })

  // Bun's way (a runtime that cannot accept on a socket it did not bind), and Node's when the
  // old supervisor passed no descriptor: the new one binds beside the path and renames.
  it.live(
    "a new supervisor that cannot accept on the old one's socket renames its own over the path once in charge; the old one then removes nothing",
    () =>
      Effect.gen(function* () {
        const socketPath = socketPathIn()
        const oldHandover = Handover.owner()
        const newHandover = Handover.make(false)
        const oldScope = yield* Scope.make()
        const newScope = yield* Scope.make()
        const oldServer = yield* Effect.provide(ControlServer.ControlServer, layerFor(oldHandover, false))
        yield* Scope.extend(oldServer.listen(socketPath, answering("old")), oldScope)
        const newServer = yield* Effect.provide(ControlServer.ControlServer, layerFor(newHandover, false))
        yield* Scope.extend(newServer.listen(socketPath, answering("new")), newScope)
        // Until it is in charge, the old one answers, and nothing was bound beside the path.
        expect(yield* ask(socketPath)).toBe("old")
        expect(fs.readdirSync(path.dirname(socketPath))).toEqual(["c.sock"])
        yield* oldHandover.setOwned(false)
        yield* newHandover.setOwned(true)
        // Taking the path is a take-over step: the new supervisor completes it before it confirms.
        yield* Handover.completeTakeOver(newHandover)
        yield* eventually(() => fs.readdirSync(path.dirname(socketPath)).length === 1)
        expect(yield* ask(socketPath)).toBe("new")
        // The old one's end (Bun's close() would unlink the path) leaves the new one's file.
        yield* Scope.close(oldScope, Exit.void)
        expect(yield* ask(socketPath)).toBe("new")
        yield* Scope.close(newScope, Exit.void)
        expect(fs.existsSync(socketPath)).toBe(false)
      })
  )
})
