/**
 * The pid file, locked with flock(2) for the supervisor's whole life: Perl's `--stop`
 * waits on that lock. Unlike Perl we take the lock before touching the content, so a
 * second instance cannot empty a running instance's pid file, and we refuse to start.
 */
import * as fs from "node:fs"
import { PidFile } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { fsPath } from "./ByteEnv.js"
import * as Handover from "./Handover.js"
import * as Libc from "./Libc.js"
import { isLocked } from "./PidFileLock.js"
import { errnoOf, strerror } from "./SystemError.js"

const fail = (message: string, errno?: number) => new PidFile.PidFileError({ message, errno })

const sameFile = (a: fs.Stats, b: fs.Stats | undefined) => b !== undefined && a.dev === b.dev && a.ino === b.ino

/** The refusal, naming the holder's pid as its pid file says it (if it can be read). */
const lockedMessage = (path: string) => {
  let holder = ""
  try {
    holder = fs.readFileSync(fsPath(path), "utf8").trim()
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

/**
 * A pid file someone else owns (planted in a shared directory) could be rewritten by them
 * while we run, and `--stop` would signal whatever pid they put there: refused. One of ours
 * that others may write (a umask of 002, or planted with our uid by root) loses those bits.
 */
const checkOwner = (fd: number, path: string) => {
  const stat = fs.fstatSync(fd)
  const uid = process.getuid?.()
  if (uid !== undefined && stat.uid !== uid) {
    throw fail(`pid file ${path} is owned by another user (uid ${stat.uid}); refusing to use it`)
  }
  if ((stat.mode & 0o022) !== 0) fs.fchmodSync(fd, stat.mode & 0o7755)
}

/**
 * Writes `pid` into the file at `path`, which must be the one `lockFd` holds. The locked
 * descriptor is read-only (a new supervisor inherits it, and a `--binary` that writes to its
 * inherited descriptors must not reach the file): the content goes through a descriptor of
 * its own, open only for this.
 */
const writePid = (path: string, lockFd: number, pid: number) => {
  const fd = fs.openSync(fsPath(path), fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW)
  try {
    if (!sameFile(fs.fstatSync(lockFd), fs.fstatSync(fd))) {
      throw new Error("it was replaced by another file (not written)")
    }
    // A handover rewrites it while readers may look: never empty then. The new pid goes over
    // the old one, then the rest is cut; one shorter than the old would leave the old one's
    // tail showing meanwhile (`kill $(cat …)` would read two numbers), so it replaces it.
    const text = Buffer.from(`${pid}\n`)
    if (text.length >= fs.fstatSync(fd).size) {
      fs.writeSync(fd, text, 0, text.length, 0)
      fs.ftruncateSync(fd, text.length)
    } else {
      fs.ftruncateSync(fd, 0)
      fs.writeSync(fd, text, 0, text.length, 0)
    }
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Removes the file only while this process owns it and it is still the one locked. */
const release = (handover: Handover.Handover, path: string, fd: number, stat: fs.Stats) =>
  Effect.gen(function* () {
    if (handover.owned() && sameFile(stat, fs.statSync(fsPath(path), { throwIfNoEntry: false }))) {
      yield* Effect.try(() => fs.unlinkSync(fsPath(path))).pipe(
        Effect.catchAll((error) => Effect.logWarning(`failed to unlink file:${path}:${strerror(error.error)}`))
      )
    }
    yield* Effect.sync(() => fs.closeSync(fd))
  })

/**
 * Whenever this process comes to own the pid file (a successor at the handover, an old
 * supervisor taking it back after a failed one), its pid goes in; the lock never changes hands.
 */
const keepPid = (handover: Handover.Handover, path: string, fd: number, pid: number) =>
  Handover.whenOwned(
    handover,
    Effect.try(() => writePid(path, fd, pid)).pipe(
      Effect.catchAll((error) => Effect.logError(`failed to write file:${path}:${strerror(error.error)}`))
    )
  )

/**
 * A successor's pid file: the old supervisor's locked descriptor, inherited (a flock belongs
 * to the open file, so the lock is never free during the handover). Written once owned.
 */
const adopt = (libc: Libc.Service, handover: Handover.Handover, fd: number) => (path: string, pid: number) =>
  Effect.gen(function* () {
    if (!libc.tryLockExclusive(fd)) return yield* fail(`the inherited pid file ${path} is not locked by us`)
    const stat = fs.fstatSync(fd)
    handover.pidFile = fd
    yield* Effect.addFinalizer(() => release(handover, path, fd, stat))
    yield* keepPid(handover, path, fd, pid)
  })

const acquire = (libc: Libc.Service, handover: Handover.Handover) => (path: string, pid: number) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        // O_CLOEXEC is Node's default for opened files: workers never hold the lock. Read-only:
        // this descriptor is handed to a new supervisor (see writePid). Never through a
        // symlink: its target (anything the supervisor may write) would be clobbered.
        const fd = fs.openSync(
          fsPath(path),
          fs.constants.O_RDONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW,
          0o644
        )
        if (!libc.tryLockExclusive(fd)) {
          fs.closeSync(fd)
          throw fail(lockedMessage(path))
        }
        try {
          checkOwner(fd, path)
        } catch (error) {
          fs.closeSync(fd)
          throw error
        }
        try {
          writePid(path, fd, pid)
        } catch (error) {
          // A full disk: leave no empty pid file behind. The lock is ours, so the file is too.
          fs.rmSync(fsPath(path), { force: true })
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
    // Remove it only while it is still ours: never delete another instance's pid file.
    ({ fd, stat }) => release(handover, path, fd, stat)
  ).pipe(
    Effect.tap(({ fd }) => {
      handover.pidFile = fd
      return keepPid(handover, path, fd, pid)
    }),
    Effect.asVoid
  )

/** `adopted`: a successor's inherited descriptor (see `adopt`). */
export const layerWith = (options: {
  readonly handover: Handover.Handover
  readonly adopted?: number | undefined
}): Layer.Layer<PidFile.PidFile, never, Libc.Libc> =>
  Layer.effect(
    PidFile.PidFile,
    Effect.map(Libc.Libc, (libc) =>
      PidFile.PidFile.of({
        acquire:
          options.adopted === undefined
            ? acquire(libc, options.handover)
            : adopt(libc, options.handover, options.adopted)
      })
    )
  )

export const layer: Layer.Layer<PidFile.PidFile, never, Libc.Libc> = layerWith({ handover: Handover.owner() })
