/**
 * How the supervisor writes its log once its workers' output runs through it (tagged). Lines
 * for fds 1 and 2 wait in one queue and are written one write at a time, in libuv's thread
 * pool: a slow log output (a stalled logger pipe, a terminal held with ^S) never stalls the
 * event loop.
 *
 * The policy when the output cannot keep up. Up to `maxPendingBytes` wait. Past that, the
 * workers are held (`hold(true)`: their pipes are not read, so a worker that writes more
 * waits, as it would on a slow output of its own) until half of it is written, but for
 * `holdMs` at most. Then they are let go, and lines that find the queue full are dropped and
 * counted until it has room again; the next line that fits is preceded by a note of the count
 * (`dropNote`). Every line is in the in-memory tail all the same (`start_server logs`).
 */
import * as fs from "node:fs"

export const maxPendingBytes = 1024 * 1024
export const holdMs = 1000
/** Consecutive lines for one fd go out in one write of at most this. */
const maxBatchBytes = 64 * 1024
const retryMs = 10

export interface Options {
  /** The line that says how many lines were dropped. */
  readonly dropNote: (count: number) => string
  /** Stops (`true`) or resumes reading the workers' pipes. */
  readonly hold: (held: boolean) => void
  /**
   * `false`: the workers are held for as long as the output needs, and nothing is dropped, as
   * when they write to it themselves (relayed output, which must reach it byte for byte).
   */
  readonly drops?: boolean | undefined
}

export interface LogWriter {
  /** Queues `line` (without its newline) for fd 1 or 2, or drops it (see above). */
  readonly write: (fd: 1 | 2, line: string) => void
  /** Queues `data` for fd 1 or 2 as it is (relayed output: part of a line, or many). */
  readonly writeBytes: (fd: 1 | 2, data: Buffer) => void
  /** Whether the workers are held now (a pipe opened meanwhile starts held). */
  readonly held: () => boolean
  /** Resolves once everything queued so far is written, or after `timeoutMs` at most. */
  readonly flush: (timeoutMs: number) => Promise<void>
}

interface Chunk {
  readonly fd: 1 | 2
  readonly data: Buffer
}

/** A write on the way out of the process. */
const writeNow = ({ fd, data }: Chunk): void => {
  let offset = 0
  while (offset < data.length) {
    try {
      offset += fs.writeSync(fd, data, offset)
    } catch {
      return
    }
  }
}

export const make = (options: Options): LogWriter => {
  const queue: Array<Chunk> = []
  const idleWaiters = new Set<() => void>()
  let pendingBytes = 0
  let dropped = 0
  let writing = false
  let exitHook = false
  /** `holding`: the workers wait for the queue; `dropping`: they waited long enough. */
  let mode: "open" | "holding" | "dropping" = "open"
  let holdTimer: ReturnType<typeof setTimeout> | undefined

  const idle = () => !writing && queue.length === 0

  const overflow = () => {
    if (mode !== "open") return
    mode = "holding"
    options.hold(true)
    if (options.drops === false) return
    holdTimer = setTimeout(() => {
      mode = "dropping"
      options.hold(false)
    }, holdMs)
  }

  const relieved = () => {
    if (mode === "open" || pendingBytes > maxPendingBytes / 2) return
    clearTimeout(holdTimer)
    if (mode === "holding") options.hold(false)
    mode = "open"
  }

  const next = (): void => {
    if (writing) return
    const first = queue.shift()
    if (first === undefined) {
      for (const resolve of idleWaiters) resolve()
      idleWaiters.clear()
      return
    }
    const parts = [first.data]
    let size = first.data.length
    while (queue[0] !== undefined && queue[0].fd === first.fd && size + queue[0].data.length <= maxBatchBytes) {
      const chunk = queue.shift()!
      parts.push(chunk.data)
      size += chunk.data.length
    }
    const batch: Chunk = { fd: first.fd, data: parts.length === 1 ? first.data : Buffer.concat(parts, size) }
    writing = true
    fs.write(batch.fd, batch.data, 0, batch.data.length, null, (error, written) => {
      writing = false
      // Someone made the fd non-blocking: wait for it to take more.
      if (error?.code === "EAGAIN") {
        queue.unshift(batch)
        setTimeout(next, retryMs)
        return
      }
      // A closed output (EPIPE, EBADF) takes nothing: what was for it is lost.
      const done = error === null ? written : batch.data.length
      pendingBytes -= done
      if (done < batch.data.length) queue.unshift({ fd: batch.fd, data: batch.data.subarray(done) })
      relieved()
      next()
    })
  }

  const push = (chunk: Chunk) => {
    queue.push(chunk)
    pendingBytes += chunk.data.length
  }

  const enqueue = (fd: 1 | 2, data: Buffer) => {
    if (!exitHook) {
      exitHook = true
      // process.exit() would lose what still waits: write it out, in order, after the write
      // in progress (if any, Node's exit waits for it).
      process.once("exit", () => {
        for (const chunk of queue.splice(0)) writeNow(chunk)
      })
    }
    if (pendingBytes + data.length > maxPendingBytes) {
      overflow()
      // Held, the lines of the chunk being read still go in: the queue grows by that much at most.
      if (mode === "dropping") {
        dropped += 1
        return
      }
    }
    if (dropped > 0) {
      push({ fd: 2, data: Buffer.from(`${options.dropNote(dropped)}\n`) })
      dropped = 0
    }
    push({ fd, data })
    next()
  }

  return {
    write: (fd, line) => enqueue(fd, Buffer.from(`${line}\n`)),
    // A copy: the reader's buffer may be reused.
    writeBytes: (fd, data) => enqueue(fd, Buffer.from(data)),
    held: () => mode === "holding",
    flush: (timeoutMs) =>
      idle()
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              idleWaiters.delete(done)
              resolve()
            }, timeoutMs)
            const done = () => {
              clearTimeout(timer)
              resolve()
            }
            idleWaiters.add(done)
          })
  }
}
