/**
 * A worker's stdout and stderr when they come through the supervisor (tagged, or relayed as
 * they are for `start_server logs`): each on a pipe of its own, read line by line. A line
 * longer than `maxLineBytes` is passed on in pieces of that size, never held whole, and a last
 * line without its newline is passed on when the pipe closes (the worker exited). The framing is
 * here; each runtime brings its pipe reader (`readPipes`).
 */
import type { PipeReading, ReadPipe } from "./PipeLines.js"

export const maxLineBytes = 64 * 1024

export interface Worker {
  readonly pid: number
  readonly generation: number
}

export type StreamName = "stdout" | "stderr"

/** What reads one pipe: each line, then its end; `bytes`, if set, gets every chunk as it was read. */
export interface Reader {
  readonly line: (line: string) => void
  readonly end: () => void
  readonly bytes?: ((chunk: Buffer) => void) | undefined
}

/** Stops and starts reading a pipe: a worker that writes more then waits for us. */
export interface Flow {
  readonly pause: () => void
  readonly resume: () => void
}

/** Where the workers' lines go: `open` is called for each pipe, as the worker starts. */
export interface Sink {
  readonly open: (worker: Worker, stream: StreamName, flow: Flow) => Reader
}

/** Where a cut falls: at most `max` bytes in, never inside a UTF-8 character. */
const cutAt = (bytes: Buffer, start: number, max: number): number => {
  let cut = start + max
  while (cut > start && (bytes[cut]! & 0xc0) === 0x80) cut--
  return cut === start ? start + max : cut
}

/** What a runtime feeds with the bytes it reads from a worker's pipe. */
export interface LineFeed {
  readonly push: (chunk: Buffer) => void
  /** The pipe closed: a worker that dies mid-line still gets its last words logged. */
  readonly end: () => void
}

/** Cuts the bytes pushed into lines (and pieces of at most `maxLineBytes`) for `reader`. */
export const lines = (reader: Reader): LineFeed => {
  // Only ever a part of one line, shorter than maxLineBytes.
  let pending = Buffer.alloc(0)
  const emit = (bytes: Buffer, from: number, to: number) => reader.line(bytes.toString("utf8", from, to))
  return {
    push: (chunk) => {
      const data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      let start = 0
      for (let newline = data.indexOf(10, start); newline !== -1; newline = data.indexOf(10, start)) {
        while (newline - start > maxLineBytes) {
          const cut = cutAt(data, start, maxLineBytes)
          emit(data, start, cut)
          start = cut
        }
        emit(data, start, newline)
        start = newline + 1
      }
      while (data.length - start >= maxLineBytes) {
        const cut = cutAt(data, start, maxLineBytes)
        emit(data, start, cut)
        start = cut
      }
      // A copy: a slice would keep the whole chunk alive.
      pending = Buffer.from(data.subarray(start))
    },
    end: () => {
      if (pending.length > 0) emit(pending, 0, pending.length)
      pending = Buffer.alloc(0)
      reader.end()
    }
  }
}

/** What a worker's output said that the supervisor acts on (see `ProcessSpawner.WorkerProcess`). */
export interface Said {
  /**
   * Whether a line mentioned EADDRINUSE, once every pipe has ended (a worker's last lines can
   * arrive after its exit), or after `timeoutMs` if something it left behind holds one open.
   */
  readonly addressInUse: (timeoutMs: number) => Promise<boolean>
}

/**
 * Reads a worker's pipes (their read ends, which this takes over) into `sink`, on the
 * runtime's pipe reader, pausing a pipe while the sink is behind.
 */
export const readPipes = (
  readPipe: ReadPipe,
  pipes: ReadonlyArray<{ readonly stream: StreamName; readonly read: number }>,
  worker: Worker,
  sink: Sink
): Said => {
  let addressInUse = false
  let open = pipes.length
  const waiting = new Set<() => void>()
  for (const { stream, read } of pipes) {
    let reading: PipeReading | undefined
    const opened = sink.open(worker, stream, { pause: () => reading?.pause(), resume: () => reading?.resume() })
    const reader: Reader = {
      bytes: opened.bytes,
      line: (line) => {
        if (!addressInUse && line.includes("EADDRINUSE")) addressInUse = true
        opened.line(line)
      },
      end: () => {
        opened.end()
        open -= 1
        if (open > 0) return
        for (const done of waiting) done()
        waiting.clear()
      }
    }
    const feed = lines(reader)
    reading = readPipe(
      read,
      (chunk) => {
        const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        reader.bytes?.(bytes)
        feed.push(bytes)
      },
      feed.end
    )
  }
  return {
    addressInUse: (timeoutMs) =>
      open === 0
        ? Promise.resolve(addressInUse)
        : new Promise<boolean>((resolve) => {
            const done = () => {
              clearTimeout(timer)
              resolve(addressInUse)
            }
            const timer = setTimeout(() => {
              waiting.delete(done)
              resolve(addressInUse)
            }, timeoutMs)
            waiting.add(done)
          })
  }
}
