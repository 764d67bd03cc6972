/**
 * Writes to whatever fd 2 is *now*. `--log-file` re-points fd 2 with dup2 after start-up,
 * and process.stderr may hold its own handle (libuv reopens a TTY), so log lines are
 * written to the raw descriptor, synchronously, like Perl's autoflushed STDERR.
 */
import * as fs from "node:fs"

export const writeStderr = (text: string): void => {
  const buffer = Buffer.from(text)
  let offset = 0
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(2, buffer, offset)
    } catch (error) {
      // A non-blocking pipe that is full: wait for the reader rather than lose the line.
      if ((error as { code?: unknown }).code === "EAGAIN") continue
      return // nowhere left to report it
    }
  }
}
