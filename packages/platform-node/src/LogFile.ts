/**
 * `--log-file=FILE` (append) and `--log-file="| cmd"` (a shell pipe): fds 1 and 2 of this
 * process are re-pointed there with dup2, exactly as Perl does, so the supervisor's lines
 * and every worker's stdout and stderr (inherited fds) end up in the same place.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as libc from "./internal/libc.js"
import { errnoOf, strerror } from "./SystemError.js"

export class LogFileError extends Data.TaggedError("LogFileError")<{
  readonly message: string
  readonly errno: number | undefined
}> {}

const PIPE = /^\s*\|\s*/

const pointStdoutAndStderrAt = (fd: number) => {
  libc.dup2(fd, 1)
  libc.dup2(fd, 2)
  libc.close(fd)
}

const openPipe = (target: string, command: string) =>
  Effect.try({
    try: () => {
      const [read, write] = libc.pipe()
      // The logger is our child, writing to the terminal we had (Perl's `open '|-'`).
      const logger = spawn("sh", ["-c", command], { stdio: [read, "inherit", "inherit"] })
      logger.on("error", () => {})
      libc.close(read)
      pointStdoutAndStderrAt(write)
    },
    catch: (error) =>
      new LogFileError({ message: `failed to open pipe:${target}: ${strerror(error)}`, errno: errnoOf(error) })
  })

const openFile = (path: string) =>
  Effect.try({
    try: () => pointStdoutAndStderrAt(fs.openSync(path, "a")),
    catch: (error) =>
      new LogFileError({ message: `failed to open log file:${path}: ${strerror(error)}`, errno: errnoOf(error) })
  })

export const redirectOutput = (target: string): Effect.Effect<void, LogFileError> => {
  const pipe = PIPE.exec(target)
  return pipe === null ? openFile(target) : openPipe(target, target.slice(pipe[0].length))
}
