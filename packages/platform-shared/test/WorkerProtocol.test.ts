import { describe, expect, it } from "@effect/vitest"
import * as WorkerProtocol from "../src/WorkerProtocol.js"

const bytes = (text: string) => new TextEncoder().encode(text)

describe("WorkerProtocol.ipcMessages", () => {
  it("parses one JSON message per line, whatever the chunks, and drops one over the limit", () => {
    const seen: Array<unknown> = []
    const messages = WorkerProtocol.ipcMessages((message) => seen.push(message))
    const long = JSON.stringify("x".repeat(WorkerProtocol.maxIpcMessage))
    const stream = bytes(`"a"\n{"ready":true}\n${long}\n"after"\nnot json\n"b`)
    // Fed in pieces of 1000 bytes: lines split across reads.
    for (let i = 0; i < stream.length; i += 1000) messages.push(stream.subarray(i, i + 1000))
    messages.push(bytes(`"\n`))
    expect(seen).toEqual(["a", { ready: true }, "after", "b"])
  })

  it("a message exactly at the limit still counts", () => {
    const seen: Array<unknown> = []
    const messages = WorkerProtocol.ipcMessages((message) => seen.push(message))
    const text = JSON.stringify("y".repeat(WorkerProtocol.maxIpcMessage - 2))
    messages.push(bytes(`${text}\n`))
    expect(seen).toHaveLength(1)
  })
})
