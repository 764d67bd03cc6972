/**
 * start_server's log lines. Perl prints bare lines to stderr with no timestamp or level,
 * and scripts grep for them, so the text format is exactly the message. The JSON format
 * adds what machines want: time, level, and any annotations (generation, pid).
 */
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import { writeStderr } from "./Stderr.js"

const text = (message: unknown): string =>
  Array.isArray(message) ? message.map((m) => String(m)).join(" ") : String(message)

const writeLine = (line: string): void => writeStderr(`${line}\n`)

export const textLogger = Logger.make(({ message }) => writeLine(text(message)))

export const jsonLogger = Logger.make(({ message, logLevel, date, annotations }) =>
  writeLine(
    JSON.stringify({
      time: date.toISOString(),
      level: logLevel.label.toLowerCase(),
      message: text(message),
      pid: process.pid,
      ...Object.fromEntries(HashMap.toEntries(annotations))
    })
  )
)

/** `--log-format`: Perl's bare lines, or one JSON object per line. */
export type LogFormat = "text" | "json"

export const layer = (format: LogFormat) =>
  Logger.replace(Logger.defaultLogger, format === "json" ? jsonLogger : textLogger)
