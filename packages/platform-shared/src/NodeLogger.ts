/**
 * start_server's log lines. Perl prints bare lines to stderr with no timestamp or level,
 * and scripts grep for them, so the text format is exactly the message. The JSON format
 * adds what machines want: time, level, and any annotations (generation, pid).
 */
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import { writeStderr } from "./Stderr.js"
import type * as WorkerOutput from "./WorkerOutput.js"

/** `--log-format`: Perl's bare lines, or one JSON object per line. */
export type LogFormat = "text" | "json"

const text = (message: unknown): string =>
  Array.isArray(message) ? message.map((m) => String(m)).join(" ") : String(message)

const writeLine = (line: string): void => writeStderr(`${line}\n`)

/** A logger that formats each message as one line and hands it to `write` (without its newline). */
export const make = (format: LogFormat, write: (line: string) => void): Logger.Logger<unknown, void> =>
  format === "json"
    ? Logger.make(({ message, logLevel, date, annotations }) =>
        write(
          JSON.stringify({
            time: date.toISOString(),
            level: logLevel.label.toLowerCase(),
            message: text(message),
            pid: process.pid,
            ...Object.fromEntries(HashMap.toEntries(annotations))
          })
        )
      )
    : Logger.make(({ message }) => write(text(message)))

export const textLogger = make("text", writeLine)

export const jsonLogger = make("json", writeLine)

/**
 * A worker's line as the log shows it: JSON with the fields the supervisor's own lines about a
 * worker carry (`worker_pid`, `generation`) and its `stream`; text behind `[pid P gen G] `.
 */
export const workerLine = (
  format: LogFormat,
  worker: WorkerOutput.Worker,
  stream: WorkerOutput.StreamName,
  line: string,
  date: Date
): string =>
  format === "json"
    ? JSON.stringify({
        time: date.toISOString(),
        level: "info",
        message: line,
        pid: process.pid,
        worker_pid: worker.pid,
        generation: worker.generation,
        stream
      })
    : `[pid ${worker.pid} gen ${worker.generation}] ${line}`

export const layer = (format: LogFormat, write: (line: string) => void = writeLine) =>
  Logger.replace(Logger.defaultLogger, make(format, write))
