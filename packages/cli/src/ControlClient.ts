/**
 * A client of the control socket for the wrapper commands: one request, then the reply
 * that carries its id.
 */
import * as net from "node:net"
import * as Effect from "effect/Effect"
import { WrapperError } from "./PidFileReader.js"

export interface Reply {
  readonly ok?: boolean
  readonly result?: unknown
  readonly error?: string
}

export const request = (path: string, body: Record<string, unknown>): Effect.Effect<Reply, WrapperError> =>
  Effect.async<Reply, WrapperError>((resume) => {
    const socket = net.connect(path)
    let buffer = ""
    socket.setEncoding("utf8")
    socket.on("connect", () => socket.write(`${JSON.stringify({ v: 1, id: 1, ...body })}\n`))
    socket.on("data", (chunk: string) => {
      buffer += chunk
      const newline = buffer.indexOf("\n")
      if (newline === -1) return
      socket.end()
      try {
        resume(Effect.succeed(JSON.parse(buffer.slice(0, newline)) as Reply))
      } catch {
        resume(Effect.fail(new WrapperError({ message: `bad reply from ${path}`, exitCode: 1 })))
      }
    })
    socket.on("error", (error) =>
      resume(Effect.fail(new WrapperError({ message: `cannot reach ${path}: ${error.message}`, exitCode: 1 })))
    )
    // No reply before the connection ends: the supervisor went away (a reply resumes first).
    socket.on("close", () =>
      resume(Effect.fail(new WrapperError({ message: `${path} closed the connection without answering`, exitCode: 1 })))
    )
    return Effect.sync(() => socket.destroy())
  })
