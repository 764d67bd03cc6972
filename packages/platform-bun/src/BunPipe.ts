/**
 * Reading a pipe under Bun (`PipeLines.ReadPipe`): Bun's file stream on the descriptor
 * (net.Socket cannot take one). Bun leaves the descriptor open at its end: it is closed here,
 * once the stream has ended, since the reader took it over.
 */
import type * as PipeLines from "@starter/platform-shared/PipeLines"
import { libc } from "./BunLibc.js"
import * as Bun from "./internal/bun.js"

export const readPipe: PipeLines.ReadPipe = (fd, onChunk, onEnd) => {
  const reading = Bun.readFd(fd, onChunk, () => {
    libc.close(fd)
    onEnd()
  })
  // Cancelled, the stream ends (and the descriptor is closed) on its next turn.
  return { destroy: reading.cancel, pause: reading.pause, resume: reading.resume }
}
