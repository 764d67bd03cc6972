/**
 * The `--status-file` on disk, written the way Perl writes it (Starter.pm L196-214): the
 * content goes to `<file>.<pid>`, which is then renamed over the file, so readers such as
 * `--restart` never see a half-written file.
 */

import * as fs from "node:fs"
import { StatusStore } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { type FileIdentity, writeTemp } from "./AtomicFile.js"
import { strerror } from "./SystemError.js"

const fail = (message: string) => new StatusStore.StatusWriteError({ message })

const writeAtomically = (path: string, content: string): Effect.Effect<FileIdentity, StatusStore.StatusWriteError> =>
  Effect.suspend(() => {
    const tmp = `${path}.${process.pid}`
    let written: FileIdentity
    try {
      written = writeTemp(tmp, content)
    } catch (error) {
      // A full disk fails the write, not the open: leave no half-written file behind.
      fs.rmSync(tmp, { force: true })
      return Effect.fail(fail(`failed to create temporary file:${tmp}:${strerror(error)}`))
    }
    try {
      fs.renameSync(tmp, path)
    } catch (error) {
      fs.rmSync(tmp, { force: true })
      return Effect.fail(fail(`failed to rename ${tmp} to ${path}:${strerror(error)}`))
    }
    return Effect.succeed(written)
  })

/**
 * Removes the file at scope close, but only if this process wrote it (Perl PR #32: a second
 * instance that fails to bind must not delete the live instance's file) and it is still
 * the file we wrote (another writer may have replaced it since).
 */
const removeIfOurs = (path: string, written: FileIdentity): void => {
  try {
    const { dev, ino } = fs.lstatSync(path)
    if (dev === written.dev && ino === written.ino) fs.unlinkSync(path)
  } catch {
    // already gone, or not ours to judge: leave it
  }
}

export const layer = (path: string): Layer.Layer<StatusStore.StatusStore> =>
  Layer.scoped(
    StatusStore.StatusStore,
    Effect.gen(function* () {
      // Which file we put at the path: the identity of our last successful rename.
      const last = yield* Ref.make(Option.none<FileIdentity>())
      yield* Effect.addFinalizer(() =>
        Ref.get(last).pipe(Effect.map(Option.map((written) => removeIfOurs(path, written))))
      )
      return StatusStore.StatusStore.of({
        write: (content) =>
          writeAtomically(path, content).pipe(Effect.flatMap((written) => Ref.set(last, Option.some(written))))
      })
    })
  )
