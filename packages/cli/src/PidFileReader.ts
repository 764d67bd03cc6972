/**
 * Reading the pid of a running start_server from its --pid-file, and signalling it,
 * with Perl's messages and exit codes (`failed to open file:…` exits with errno, 2).
 */
import * as fs from "node:fs"
import { fsPath } from "@starter/platform-shared/ByteEnv"
import * as PidFileLock from "@starter/platform-shared/PidFileLock"
import * as Stderr from "@starter/platform-shared/Stderr"
import * as SystemError from "@starter/platform-shared/SystemError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { libc } from "./Runtime.js"

export class WrapperError extends Data.TaggedError("WrapperError")<{
  readonly message: string
  readonly exitCode: number
}> {}

/** A wrapper command's failure: its one line on stderr, and its exit status. */
export const exitWithMessage = <R>(program: Effect.Effect<number, WrapperError, R>): Effect.Effect<number, never, R> =>
  Effect.catchAll(program, (error) =>
    Effect.sync(() => {
      Stderr.writeStderr(`${error.message}\n`)
      return error.exitCode
    })
  )

// Perl's die exits with errno when there is one (ENOENT → 2, ESRCH → 3).
const errno = (error: unknown): number => SystemError.errnoOf(error) ?? 255

/** The first line of the pid file, as a pid. */
export const readPid = (path: string): Effect.Effect<number, WrapperError> =>
  Effect.try({
    try: () => fs.readFileSync(fsPath(path), "utf8"),
    catch: (error) =>
      new WrapperError({
        message: `failed to open file:${path}:${SystemError.strerror(error)}`,
        exitCode: errno(error)
      })
  }).pipe(
    Effect.flatMap((content) => {
      const first = content.split("\n")[0]?.trim() ?? ""
      if (!/^\d+$/.test(first) || Number(first) <= 0) {
        return Effect.fail(
          new WrapperError({ message: `no pid found in ${path}: ${JSON.stringify(first)}`, exitCode: 255 })
        )
      }
      const pid = Number(first)
      // A live process that holds no lock on the file is not the supervisor that wrote it (it
      // died, and its pid was reused): never signal it. A dead one fails as in Perl (ESRCH).
      if (isAlive(pid) && !PidFileLock.isLocked(libc, path)) {
        return Effect.fail(
          new WrapperError({
            message: `${path} is stale: no start_server holds its lock, and pid ${pid} is another process; not signalling it`,
            exitCode: 3
          })
        )
      }
      return Effect.succeed(pid)
    })
  )

export const sendSignal = (pid: number, signal: "HUP" | "TERM"): Effect.Effect<void, WrapperError> =>
  Effect.try({
    try: () => void process.kill(pid, `SIG${signal}`),
    catch: (error) =>
      new WrapperError({
        message: `failed to send SIG${signal} to the server process:${SystemError.strerror(error)}`,
        exitCode: errno(error)
      })
  })

/** Whether `pid` runs; an exited process that nobody has reaped yet (a zombie) does not. */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as { code?: unknown }).code === "EPERM"
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return true // no procfs: kill(0) is all we know
  }
}
