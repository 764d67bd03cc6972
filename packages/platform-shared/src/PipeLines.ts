/** Lines from a pipe, for the two sides of `start_server upgrade`, on the runtime's own reader. */

/** Reading a pipe on the runtime's event loop (never a blocking read in a pool thread). */
export interface PipeReading {
  /** Stops reading and closes the pipe. */
  readonly destroy: () => void
  /** Holds reading (the pipe fills, its writer waits) until `resume`. */
  readonly pause: () => void
  readonly resume: () => void
}

/**
 * Reads the pipe `fd` (taking it over) on the runtime's event loop: `onChunk` for each read,
 * then `onEnd` once, at its end or on an error. Node's is a libuv stream, Bun's its file
 * stream: a read blocked in the thread pool would hang the process's exit.
 */
export type ReadPipe = (fd: number, onChunk: (chunk: Uint8Array) => void, onEnd: () => void) => PipeReading

/** Calls `onLine` for each line read from the pipe `fd`, then `onEnd`. */
export const readLines = (
  readPipe: ReadPipe,
  fd: number,
  onLine: (line: string) => void,
  onEnd: () => void
): PipeReading => {
  let buffer = ""
  const decoder = new TextDecoder()
  return readPipe(
    fd,
    (chunk) => {
      buffer += decoder.decode(chunk, { stream: true })
      for (let i = buffer.indexOf("\n"); i !== -1; i = buffer.indexOf("\n")) {
        onLine(buffer.slice(0, i))
        buffer = buffer.slice(i + 1)
      }
    },
    onEnd
  )
}
