/**
 * The pid file, locked with flock(2) for the supervisor's whole life: Perl's `--stop`
 * waits on that lock. Unlike Perl we take the lock before touching the content, so a
 * second instance cannot empty a running instance's pid file, and we refuse to start.
 */
import * as fs from "node:fs"
import { PidFile } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Libc from "./Libc.js"
import { isLocked } from "./PidFileLock.js"
import { errnoOf, strerror } from "./SystemError.js"

const fail = (message: string, errno?: number) => new PidFile.PidFileError({ message, errno })

const sameFile = (a: fs.Stats, b: fs.Stats | undefined) => b !== undefined && a.dev === b.dev && a.ino === b.ino

/** The refusal, naming the holder's pid as its pid file says it (if it can be read). */
const lockedMessage = (path: string) => {
  let holder = ""
  try {
    holder = fs.readFileSync(path, "utf8").trim()
  } catch {
    // gone meanwhile: the message names no pid
  }
  return `pid file ${path} is locked by a running start_server${holder === "" ? "" : ` (pid ${holder})`}`
}

/**
 * Fails as `acquire` would if a running start_server holds the lock, and takes nothing: for
 * the foreground of `--daemonize`, which binds before its daemon takes the pid file.
 */
export const checkUnlocked = (path: string): Effect.Effect<void, PidFile.PidFileError, Libc.Libc> =>
  Effect.flatMap(Libc.Libc, (libc) => (isLocked(libc, path) ? Effect.fail(fail(lockedMessage(path))) : Effect.void))

const acquire = (libc: Libc.Service, path: string, pid: number) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        // O_CLOEXEC is Node's default for opened files: workers never hold the lock.
        // Never through a symlink: its target (anything the supervisor may write) would be clobbered.
        const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o644)
        if (!libc.tryLockExclusive(fd)) {
          fs.closeSync(fd)
          throw fail(lockedMessage(path))
        }
        try {
          fs.ftruncateSync(fd, 0)
          fs.writeSync(fd, `${pid}\n`, 0)
          fs.fsyncSync(fd)
        } catch (error) {
          // A full disk: leave no empty pid file behind. The lock is ours, so the file is too.
          fs.rmSync(path, { force: true })
          fs.closeSync(fd)
          throw error
        }
        return { fd, stat: fs.fstatSync(fd) }
      },
      catch: (error) =>
        error instanceof PidFile.PidFileError
          ? error
          : // Perl (Starter.pm L256) puts a space after this colon, unlike its --stop and --restart.
            fail(`failed to open file:${path}: ${strerror(error)}`, errnoOf(error))
    }),
    ({ fd, stat }) =>
      Effect.gen(function* () {
        // Remove it only while it is still ours: never delete another instance's pid file.
        if (sameFile(stat, fs.statSync(path, { throwIfNoEntry: false }))) {
          yield* Effect.try(() => fs.unlinkSync(path)).pipe(
            Effect.catchAll((error) => Effect.logWarning(`failed to unlink file:${path}:${strerror(error.error)}`))
          )
        }
        yield* Effect.sync(() => fs.closeSync(fd))
      })
  ).pipe(Effect.asVoid)

export const layer: Layer.Layer<PidFile.PidFile, never, Libc.Libc> = Layer.effect(
  PidFile.PidFile,
  Effect.map(Libc.Libc, (libc) => PidFile.PidFile.of({ acquire: (path, pid) => acquire(libc, path, pid) }))
)
