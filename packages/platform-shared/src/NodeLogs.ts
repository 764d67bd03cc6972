/**
 * The supervisor's log as a whole: its logger (text or JSON), its workers' lines when they
 * come through it, the in-memory tail that `start_server logs` reads, and reopening `--log-file`.
 *
 * Three ways with the workers' output:
 * - direct (text, Perl's way): workers write straight to the fds they inherit and the
 *   supervisor writes its own lines synchronously, as Perl does;
 * - tagged (`--log-format=json` or `--log-worker-tags`): each worker's stdout and stderr come
 *   through a pipe of the supervisor, and every line, its own too, goes out tagged through one
 *   bounded `LogWriter`;
 * - relayed (text with a control socket, so that `start_server logs` has the workers' lines):
 *   through pipes too, but written out byte for byte as the worker wrote them, never dropped
 *   (a slow output holds the workers, as it would hold them writing to it themselves).
 */
import { Logs } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Predicate from "effect/Predicate"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Libc from "./Libc.js"
import * as LogFile from "./LogFile.js"
import * as LogTail from "./LogTail.js"
import * as LogWriter from "./LogWriter.js"
import * as NodeLogger from "./NodeLogger.js"
import { writeStderr } from "./Stderr.js"
import type * as WorkerOutput from "./WorkerOutput.js"

export interface Options {
  readonly format: NodeLogger.LogFormat
  /** `--log-worker-tags`: tag the workers' lines in text too (JSON always does). */
  readonly tagWorkers: boolean
  /** A control socket is on: untagged workers' output is relayed, for `start_server logs`. */
  readonly relayWorkers?: boolean | undefined
  /** `--log-file`: a path, or `| cmd`. */
  readonly logFile: string | undefined
  /** The runtime's, for reopening and redirecting to `--log-file`. */
  readonly libc: Libc.Service
}

export interface NodeLogs {
  /** The logger, the `Logs` service, and a last flush of the queued lines when the scope closes. */
  readonly layer: Layer.Layer<Logs.Logs>
  /** Where the workers' lines go; `undefined`: they write to the fds they inherit (untagged). */
  readonly workerOutput: WorkerOutput.Sink | undefined
  /** Points fds 1 and 2 at `--log-file`, once the lines logged so far are out (on the terminal). */
  readonly redirectOutput: (log: LogFile.LogTarget) => Effect.Effect<void>
}

/** How long exiting, or redirecting to `--log-file`, waits for queued lines to be written. */
const flushTimeoutMs = 2000
/**
 * How long exiting waits for the workers' pipes to close, for the last lines they hold (a
 * process a worker left behind may keep one open).
 */
const pipesTimeoutMs = 1000
/** What one `logs -f` client may have waiting; past that, its lines are dropped and counted. */
const maxFollowerBytes = 1024 * 1024

const dropNote =
  (format: NodeLogger.LogFormat) =>
  (count: number): string => {
    const message = `log output too slow: dropped ${count} line${count === 1 ? "" : "s"}`
    return format === "json"
      ? JSON.stringify({ time: new Date().toISOString(), level: "warn", message, pid: process.pid, dropped: count })
      : message
  }

const follow = (tail: LogTail.LogTail, lines: number, until: Effect.Effect<void>) =>
  Effect.gen(function* () {
    // `undefined` ends it: behind every line queued before, so a follower gets them all.
    const queue = yield* Effect.acquireRelease(
      Queue.unbounded<{ readonly entry: Logs.LogEntry; readonly bytes: number } | undefined>(),
      Queue.shutdown
    )
    let waiting = 0
    let missed = 0
    // The last lines and the listener in one synchronous step: no line between them is lost.
    const last = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const last = tail.last(lines)
        const stop = tail.listen((entry) => {
          const bytes = Buffer.byteLength(entry.line)
          if (waiting + bytes > maxFollowerBytes) {
            missed += 1
            return
          }
          waiting += bytes
          Queue.unsafeOffer(queue, { entry, bytes })
        })
        return { last, stop }
      }),
      ({ stop }) => Effect.sync(stop)
    )
    yield* Effect.forkScoped(
      Effect.zipRight(
        until,
        Effect.sync(() => {
          last.stop()
          Queue.unsafeOffer(queue, undefined)
        })
      )
    )
    const queued = Stream.takeWhile(Stream.fromQueue(queue), Predicate.isNotUndefined)
    const next = Stream.mapConcat(queued, ({ entry, bytes }): ReadonlyArray<Logs.LogEntry> => {
      waiting -= bytes
      if (missed === 0) return [entry]
      const note: Logs.LogEntry = {
        at: new Date().toISOString(),
        from: "supervisor",
        line: `this client reads too slowly: dropped ${missed} line${missed === 1 ? "" : "s"}`
      }
      missed = 0
      return [note, entry]
    })
    return { last: last.last, next } satisfies Logs.Following
  })

const reopen = (logFile: string | undefined): Effect.Effect<Logs.Reopened, Logs.LogReopenError, Libc.Libc> => {
  if (logFile === undefined) return Effect.succeed({ reopened: null, reason: "no --log-file: nothing to reopen" })
  const command = LogFile.pipeCommand(logFile)
  if (command !== undefined) {
    const reason = `--log-file is a pipe to "${command.trim()}": nothing to reopen`
    return Effect.as(Effect.logInfo(reason), { reopened: null, reason })
  }
  return LogFile.reopenFile(logFile).pipe(
    Effect.zipRight(Effect.logInfo(`reopened log file:${logFile}`)),
    Effect.as({ reopened: logFile }),
    Effect.tapError((error) => Effect.logError(error.message)),
    Effect.mapError((error) => new Logs.LogReopenError({ message: error.message }))
  )
}

export const make = (options: Options): NodeLogs => {
  const tail = LogTail.make()
  const tagged = options.format === "json" || options.tagWorkers
  const relayed = !tagged && options.relayWorkers === true
  // The pipes being read, to hold when the log output falls behind.
  const flows = new Set<WorkerOutput.Flow>()
  const writer =
    tagged || relayed
      ? LogWriter.make({
          dropNote: dropNote(options.format),
          hold: (held) => {
            for (const flow of flows) held ? flow.pause() : flow.resume()
          },
          drops: !relayed
        })
      : undefined
  const flush = Effect.promise(() => writer?.flush(flushTimeoutMs) ?? Promise.resolve())
  let openPipes = 0
  const pipesClosed = new Set<() => void>()
  const allPipesClosed = Effect.async<void>((resume) => {
    if (openPipes === 0) return resume(Effect.void)
    const done = () => resume(Effect.void)
    pipesClosed.add(done)
    return Effect.sync(() => pipesClosed.delete(done))
  }).pipe(Effect.timeoutOption(pipesTimeoutMs))

  const ownLine = (line: string) => {
    tail.add({ at: new Date().toISOString(), from: "supervisor", line })
    if (writer === undefined) writeStderr(`${line}\n`)
    else writer.write(2, line)
  }

  const ended = (flow: WorkerOutput.Flow) => {
    flows.delete(flow)
    openPipes -= 1
    if (openPipes > 0) return
    for (const done of pipesClosed) done()
    pipesClosed.clear()
  }

  const workerOutput: WorkerOutput.Sink | undefined =
    writer === undefined
      ? undefined
      : {
          open: (worker, stream, flow) => {
            openPipes += 1
            flows.add(flow)
            if (writer.held()) flow.pause()
            const fd = stream === "stdout" ? 1 : 2
            const remember = (line: string, date: Date) =>
              tail.add({ at: date.toISOString(), from: stream, pid: worker.pid, generation: worker.generation, line })
            if (relayed) {
              return {
                bytes: (chunk) => writer.writeBytes(fd, chunk),
                line: (text) => remember(text, new Date()),
                end: () => ended(flow)
              }
            }
            return {
              line: (text) => {
                const date = new Date()
                const line = NodeLogger.workerLine(options.format, worker, stream, text, date)
                remember(line, date)
                writer.write(fd, line)
              },
              end: () => ended(flow)
            }
          }
        }

  const service = Logs.Logs.of({
    last: (lines) => Effect.sync(() => tail.last(lines)),
    follow: (lines, until) => follow(tail, lines, until),
    reopen: Effect.provideService(reopen(options.logFile), Libc.Libc, options.libc)
  })

  return {
    layer: Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, NodeLogger.make(options.format, ownLine)),
      Layer.succeed(Logs.Logs, service),
      // The workers are gone by then: their last lines, then everything queued, before exiting.
      Layer.scopedDiscard(Effect.addFinalizer(() => Effect.zipRight(allPipesClosed, flush)))
    ),
    workerOutput,
    redirectOutput: (log) =>
      Effect.zipRight(
        flush,
        Effect.sync(() => {
          // Tagged or relayed, only this process writes to a `| cmd` logger's pipe (workers write to pipes
          // of ours): non-blocking, a stalled logger makes the writer wait and drop, never hang
          // the exit in a write blocked in the thread pool. Direct, workers share it: not so.
          if (
            writer !== undefined &&
            options.logFile !== undefined &&
            LogFile.pipeCommand(options.logFile) !== undefined
          ) {
            options.libc.setNonBlocking(log.fd)
          }
        }).pipe(Effect.zipRight(Effect.provideService(LogFile.redirectOutput(log), Libc.Libc, options.libc)))
      )
  }
}
