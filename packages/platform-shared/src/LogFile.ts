/**
 * `--log-file=FILE` (append) and `--log-file="| cmd"` (a pipe to a logger). As in Perl it
 * is opened first, before anything is printed, and fds 1 and 2 of this process are pointed
 * at it (dup2) only after the sockets are bound, so that bind errors reach the terminal.
 * The supervisor's lines and every worker's stdout and stderr (inherited, or through the
 * supervisor when tagged) then go there. `reopenFile` opens the path again after logrotate.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { errnoOf, strerror } from "@starter/platform-shared/SystemError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { libc } from "./NodeLibc.js"
import * as OrphanReaper from "./OrphanReaper.js"

export class LogFileError extends Data.TaggedError("LogFileError")<{
  readonly message: string
  readonly errno: number | undefined
}> {}

/** An opened log: the fd that fds 1 and 2 will point at. */
export interface LogTarget {
  readonly fd: number
}

const PIPE = /^\s*\|\s*/
/**
 * Perl's `open '|-'` (doio.c, do_exec3) runs a command through `/bin/sh -c` if it has a
 * shell metacharacter, starts with `VAR=value`, `exec ` or `. `; otherwise it runs the words.
 */
const NEEDS_SHELL = /[$&*(){}[\]'";\\|?<>~`\n]|^\s*(?:[A-Za-z_]\w*=|exec\s|\.\s)/

/** The logger's argv: the words of `command`, or a shell for a command that needs one. */
const loggerArgv = (command: string): readonly [string, ...Array<string>] => {
  const words = command.trim().split(/\s+/)
  return NEEDS_SHELL.test(command) || words[0] === undefined || words[0] === ""
    ? ["/bin/sh", "-c", command]
    : [words[0], ...words.slice(1)]
}

const openPipe = (target: string, command: string): Effect.Effect<LogTarget, LogFileError> =>
  command.trim() === ""
    ? // Perl's two lines and its status (EPIPE): a logger that is nothing would lose every line.
      Effect.fail(
        new LogFileError({
          message: `Missing command in piped open\nfailed to open pipe:${target}: Broken pipe`,
          errno: 32
        })
      )
    : startLogger(target, command)

const pipeError = (target: string) => (error: unknown) =>
  new LogFileError({ message: `failed to open pipe:${target}: ${strerror(error)}`, errno: errnoOf(error) })

const startLogger = (target: string, command: string): Effect.Effect<LogTarget, LogFileError> =>
  Effect.flatMap(Effect.try({ try: libc.pipe, catch: pipeError(target) }), ([read, write]) =>
    Effect.async<LogTarget, LogFileError>((resume) => {
      const [program, ...args] = loggerArgv(command)
      // The logger is our child, writing to the terminal we had (Perl's `open '|-'`).
      const logger = spawn(program, args, { stdio: [read, "inherit", "inherit"] })
      OrphanReaper.own(logger)
      libc.close(read)
      logger.once("spawn", () => resume(Effect.succeed({ fd: write })))
      logger.once("error", (error) => {
        libc.close(write)
        resume(Effect.fail(pipeError(target)(error)))
      })
    })
  )

const openFile = (path: string, verb = "open"): Effect.Effect<LogTarget, LogFileError> =>
  Effect.try({
    try: () => ({ fd: fs.openSync(path, "a") }),
    catch: (error) =>
      new LogFileError({ message: `failed to ${verb} log file:${path}: ${strerror(error)}`, errno: errnoOf(error) })
  })

/** The logger command of a `| cmd` target; `undefined` for a file. */
export const pipeCommand = (target: string): string | undefined => {
  const pipe = PIPE.exec(target)
  return pipe === null ? undefined : target.slice(pipe[0].length)
}

/** Opens the log file, or starts the logger command. */
export const open = (target: string): Effect.Effect<LogTarget, LogFileError> => {
  const command = pipeCommand(target)
  return command === undefined ? openFile(target) : openPipe(target, command)
}

/**
 * Opens the file at `path` again and points fds 1 and 2 at it: after logrotate renamed the
 * old one, the supervisor's lines go to the new file. Failing, fds 1 and 2 are left as they were.
 */
export const reopenFile = (path: string): Effect.Effect<void, LogFileError> =>
  Effect.flatMap(openFile(path, "reopen"), redirectOutput)

/** Points fds 1 and 2 at the log, as Perl's `open STDOUT, '>&=', $fh` does. */
export const redirectOutput = (log: LogTarget): Effect.Effect<void> =>
  Effect.sync(() => {
    libc.dup2(log.fd, 1)
    libc.dup2(log.fd, 2)
    libc.close(log.fd)
  })
