/** Reading a pipe under Bun (`PipeLines.ReadPipe`): Bun's file stream on the descriptor (net.Socket cannot take one). */
import type * as PipeLines from "@starter/platform-shared/PipeLines"
import * as Bun from "./internal/bun.js"

export const readPipe: PipeLines.ReadPipe = (fd, onChunk, onEnd) => {
  let ended = false
  const end = () => {
    if (ended) return
    ended = true
    onEnd()
  }
  const reading = Bun.readFd(fd, onChunk, end)
  return {
    destroy: () => {
      reading.cancel()
      end()
    },
    pause: reading.pause,
    resume: reading.resume
  }
}
