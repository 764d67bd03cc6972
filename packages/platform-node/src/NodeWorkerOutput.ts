/**
 * A tagged worker's pipe read under Node: a `net.Socket` on the fd feeds the shared line
 * framing (`WorkerOutput.lines`), and pauses while the sink is behind.
 */
import * as net from "node:net"
import * as WorkerOutput from "@starter/platform-shared/WorkerOutput"

/** Hands each line read from `fd` (the read end of a pipe, which it takes over) to the reader `open` answers. */
export const readLines = (fd: number, open: (flow: WorkerOutput.Flow) => WorkerOutput.Reader): void => {
  const input = new net.Socket({ fd, readable: true, writable: false })
  const feed = WorkerOutput.lines(open({ pause: () => input.pause(), resume: () => input.resume() }))
  input.on("data", (chunk: Buffer) => feed.push(chunk))
  input.once("close", feed.end)
  input.on("error", () => {})
}
