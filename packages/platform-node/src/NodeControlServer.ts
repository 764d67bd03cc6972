/**
 * The control socket: a unix stream socket (mode 0600, owner only) speaking JSON lines.
 * A Node net.Server is right here (unlike for the service sockets): the supervisor is
 * the only party meant to accept these connections.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePath from "node:path"
import { ControlServer } from "@starter/core"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { errnoOf, strerror } from "./SystemError.js"

const fail = (message: string, errno?: number) => new ControlServer.ControlServerError({ message, errno })

/** Whether something accepts connections on the unix socket at `path`. */
const answers = (path: string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const probe = net.connect(path)
    probe.once("connect", () => {
      probe.destroy()
      resume(Effect.succeed(true))
    })
    probe.once("error", () => resume(Effect.succeed(false)))
  })

/**
 * A socket left by a killed supervisor is replaced. One that a running start_server still
 * listens on is not (that one would lose its control socket), nor is any other file.
 */
const clearPath = (path: string) =>
  Effect.gen(function* () {
    const stats = (stat: () => fs.Stats | undefined) =>
      Effect.try({
        try: stat,
        catch: (error) => fail(`failed to listen on ${path}:${strerror(error)}`, errnoOf(error))
      })
    // libuv reports a missing directory as EACCES (for Windows' sake): say what it is.
    const dir = yield* stats(() => fs.statSync(nodePath.dirname(path), { throwIfNoEntry: false }))
    if (dir === undefined) return yield* fail(`failed to listen on ${path}:${strerror({ errno: 2 })}`, 2)
    const stat = yield* stats(() => fs.lstatSync(path, { throwIfNoEntry: false }))
    if (stat === undefined) return
    if (!stat.isSocket()) return yield* fail(`refusing to replace ${path}: not a socket`)
    if (yield* answers(path)) return yield* fail(`control socket ${path} is in use by another process`, 98)
    yield* Effect.try({
      try: () => fs.unlinkSync(path),
      catch: (error) => fail(`failed to remove ${path}:${strerror(error)}`, errnoOf(error))
    })
  })

const maxLine = 64 * 1024

const listen = (path: string, handleLine: (line: string) => Stream.Stream<string>) =>
  Effect.gen(function* () {
    yield* clearPath(path)
    const run = yield* FiberSet.makeRuntime<never>()
    const connections = new Set<net.Socket>()
    const server = net.createServer((connection) => {
      connections.add(connection)
      connection.once("close", () => connections.delete(connection))
      let buffer = ""
      const fibers: Array<ReturnType<typeof run>> = []
      connection.setEncoding("utf8")
      connection.on("data", (chunk: string) => {
        buffer += chunk
        if (buffer.length > maxLine && !buffer.includes("\n")) {
          connection.end(`${JSON.stringify({ v: 1, id: null, ok: false, error: "request line too long" })}\n`)
          return
        }
        let newline = buffer.indexOf("\n")
        while (newline !== -1) {
          const line = buffer.slice(0, newline).trim()
          buffer = buffer.slice(newline + 1)
          if (line !== "") {
            fibers.push(
              run(
                Stream.runForEach(handleLine(line), (reply) =>
                  Effect.sync(() => {
                    if (!connection.destroyed) connection.write(`${reply}\n`)
                  })
                )
              )
            )
          }
          newline = buffer.indexOf("\n")
        }
      })
      // A client that goes away ends its subscriptions and waits.
      connection.on("close", () => {
        for (const fiber of fibers) fiber.unsafeInterruptAsFork(fiber.id())
      })
      connection.on("error", () => {})
    })
    yield* Effect.acquireRelease(
      Effect.async<void, ControlServer.ControlServerError>((resume) => {
        server.once("error", (error) =>
          resume(Effect.fail(fail(`failed to listen on ${path}:${strerror(error)}`, errnoOf(error))))
        )
        // The socket file is created inside listen(): a umask makes it 0600 from birth.
        const umask = process.umask(0o177)
        try {
          server.listen(path, () => resume(Effect.void))
        } finally {
          process.umask(umask)
        }
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          // A subscriber never ends its connection by itself: end every one, so that close()
          // (which waits for them) returns; a peer that does not close its side is cut off.
          for (const connection of connections) {
            connection.end()
            setTimeout(() => connection.destroy(), 500).unref()
          }
        })
    )
  })

export const layer: Layer.Layer<ControlServer.ControlServer> = Layer.succeed(
  ControlServer.ControlServer,
  ControlServer.ControlServer.of({ listen })
)
