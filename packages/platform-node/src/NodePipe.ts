/** Reading a pipe under Node (`PipeLines.ReadPipe`): a libuv stream on the descriptor. */
import * as net from "node:net"
import type * as PipeLines from "@starter/platform-shared/PipeLines"

export const readPipe: PipeLines.ReadPipe = (fd, onChunk, onEnd) => {
  const stream = new net.Socket({ fd, readable: true, writable: false })
  stream.on("data", (chunk: Buffer) => onChunk(chunk))
  stream.once("close", onEnd)
  stream.on("error", () => {})
  return { destroy: () => stream.destroy(), pause: () => stream.pause(), resume: () => stream.resume() }
}
