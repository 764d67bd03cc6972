/**
 * Writes to whatever fd 1 or 2 is *now*, synchronously, like Perl's autoflushed STDERR.
 * `--log-file` re-points fd 2 with dup2 after start-up, and process.stderr may hold its own
 * handle (libuv reopens a TTY). And a client exits right after printing: process.stdout's
 * writes to a pipe are asynchronous (under Bun even a write callback can come before the
 * bytes are out), so what it printed past the pipe's 64 KiB would be lost.
 */
import * as fs from "node:fs"

const pause = new Int32Array(new SharedArrayBuffer(4))
/** Blocks this thread for `ms` (no event loop turn: the write that waits must come first). */
const sleep = (ms: number): void => void Atomics.wait(pause, 0, 0, ms)

/** Writes all of `text` to `fd`; false when nobody reads it any more (EPIPE, a closed fd). */
const writeAll = (fd: number, text: string): boolean => {
  const buffer = Buffer.from(text)
  let offset = 0
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(fd, buffer, offset)
    } catch (error) {
      // A non-blocking pipe that is full (a paused pager): wait for the reader, without
      // spinning, rather than lose the line.
      if ((error as { code?: unknown }).code !== "EAGAIN") return false
      sleep(5)
    }
  }
  return true
}

/** A line for the log (nowhere left to report a failure). */
export const writeStderr = (text: string): void => void writeAll(2, text)

/** A client's output; false once stdout's reader has gone (`logs -f | head`). */
export const writeStdout = (text: string): boolean => writeAll(1, text)
