import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ControlServer } from "@starter/core"
import * as Handover from "@starter/platform-shared/Handover"
import * as NodeControlServer from "@starter/platform-shared/NodeControlServer"
import { Effect, Layer, Stream } from "effect"
import * as NodeLibc from "../src/NodeLibc.js"

/** A client: the lines it received, and whether the server has closed the connection. */
const connect = (socketPath: string) =>
  Effect.async<{ socket: net.Socket; lines: () => ReadonlyArray<string>; closed: () => boolean }>((resume) => {
    const socket = net.connect(socketPath)
    let text = ""
    let closed = false
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString()
    })
    socket.on("end", () => {
      closed = true
    })
    socket.on("error", () => {})
    socket.once("connect", () =>
      resume(Effect.succeed({ socket, lines: () => text.split("\n").filter(Boolean), closed: () => closed }))
    )
  })

describe("NodeControlServer", () => {
  // Bound by the runtime (as under Bun), and bound here to be listened on by descriptor (a socket that can be handed over).
  it.scopedLive.each([
    ["bound by the runtime", undefined],
    ["listened on by descriptor", Handover.owner()]
  ] as const)(
    "closes a connection that does nothing for the idle timeout, never one with a request in progress (%s)",
    ([, handover]) =>
      Effect.gen(function* () {
        const socketPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "control-")), "c.sock")
        const server = yield* Effect.provide(
          ControlServer.ControlServer,
          NodeControlServer.layerWith({ idleTimeoutMs: 200, handover }).pipe(Layer.provide(NodeLibc.layer))
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
