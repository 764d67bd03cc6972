/**
 * `--log-file=FILE` (append) and `--log-file="| cmd"` (a pipe to a logger). As in Perl it
 * is opened first, before anything is printed, and fds 1 and 2 of this process are pointed
 * at it (dup2) only after the sockets are bound, so that bind errors reach the terminal.
 * The supervisor's lines and every worker's stdout and stderr (inherited, or through the
 * supervisor when tagged) then go there. `reopenFile` opens the path again after logrotate.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Libc from "./Libc.js"
import * as OrphanReaper from "./OrphanReaper.js"
import { errnoOf, strerror } from "./SystemError.js"

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

const openPipe = (target: string, command: string): Effect.Effect<LogTarget, LogFileError, Libc.Libc> =>
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

const startLogger = (target: string, command: string): Effect.Effect<LogTarget, LogFileError, Libc.Libc> =>
  Effect.gen(function* () {
    const libc = yield* Libc.Libc
    const [read, write] = yield* Effect.try({ try: libc.pipe, catch: pipeError(target) })
    return yield* Effect.async<LogTarget, LogFileError>((resume) => {
      const [program, ...args] = loggerArgv(command)
      // The logger is our child, writing to the terminal we had (Perl's `open '|-'`).
      const logger = spawn(program, args, { stdio: [read, "inherit", "inherit"] })
      OrphanReaper.ownChild(logger)
      libc.close(read)
      logger.once("spawn", () => resume(Effect.succeed({ fd: write })))
      logger.once("error", (error) => {
        libc.close(write)
        resume(Effect.fail(pipeError(target)(error)))
      })
    })
  })

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
export const open = (target: string): Effect.Effect<LogTarget, LogFileError, Libc.Libc> => {
  const command = pipeCommand(target)
  return command === undefined ? openFile(target) : openPipe(target, command)
}

/**
 * Opens the file at `path` again and points fds 1 and 2 at it: after logrotate renamed the
 * old one, the supervisor's lines go to the new file. Failing, fds 1 and 2 are left as they were.
 */
export const reopenFile = (path: string): Effect.Effect<void, LogFileError, Libc.Libc> =>
  Effect.flatMap(openFile(path, "reopen"), redirectOutput)

const linkOf = (fd: number): string | undefined => {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return undefined
  }
}

const isWritable = (fd: number): boolean => {
  try {
    const flags = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1]
    return flags !== undefined && (Number.parseInt(flags, 8) & 0o3) !== 0 // O_WRONLY or O_RDWR
  } catch {
    return false
  }
}

/**
 * The other descriptors above 2 that write where fd 1 or 2 does: Bun keeps a copy of fd 1
 * for its own output from start-up, and libuv reopens a terminal for process.stderr. They
 * must follow fds 1 and 2 to the log, or a daemon holds its foreground's pipe open forever.
 */
const copiesOfOutput = (except: number): ReadonlyArray<number> => {
  // /dev/null holds nothing open, and the runtime may keep one of its own (Bun's "ignore" slots).
  const targets = new Set([linkOf(1), linkOf(2)].filter((link) => link !== undefined && link !== "/dev/null"))
  let names: ReadonlyArray<string>
  try {
    names = fs.readdirSync("/proc/self/fd")
  } catch {
    return [] // no procfs: nothing to find
  }
  return names.map(Number).filter((fd) => fd > 2 && fd !== except && targets.has(linkOf(fd) ?? "") && isWritable(fd))
}

/** Points fds 1 and 2 (and their copies) at the log, as Perl's `open STDOUT, '>&=', $fh` does. */
export const redirectOutput = (log: LogTarget): Effect.Effect<void, never, Libc.Libc> =>
  Effect.map(Libc.Libc, (libc) => {
    const copies = copiesOfOutput(log.fd)
    libc.dup2(log.fd, 1)
    libc.dup2(log.fd, 2)
    for (const fd of copies) {
      libc.dup2(log.fd, fd)
      // dup2 clears close-on-exec: the copies must still never reach a worker.
      libc.setCloexec(fd)
    }
    libc.close(log.fd)
  })
