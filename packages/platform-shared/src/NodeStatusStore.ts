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
import { type FileIdentity, removeIfOurs, writeTemp } from "./AtomicFile.js"
import { fsPath } from "./ByteEnv.js"
import * as Handover from "./Handover.js"
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
      fs.rmSync(fsPath(tmp), { force: true })
      return Effect.fail(fail(`failed to create temporary file:${tmp}:${strerror(error)}`))
    }
    try {
      fs.renameSync(fsPath(tmp), fsPath(path))
    } catch (error) {
      fs.rmSync(fsPath(tmp), { force: true })
      return Effect.fail(fail(`failed to rename ${tmp} to ${path}:${strerror(error)}`))
    }
    return Effect.succeed(written)
  })

/**
 * `handover`: while this process does not own the file (see Handover), the newest content
 * waits, and is written when it comes to own it.
 */
export const layer = (
  path: string,
  handover: Handover.Handover = Handover.owner()
): Layer.Layer<StatusStore.StatusStore> =>
  Layer.scoped(
    StatusStore.StatusStore,
    Effect.gen(function* () {
      // Which file we put at the path: the identity of our last successful rename. Removed at
      // scope close only if it is still that file.
      const last = yield* Ref.make(Option.none<FileIdentity>())
      yield* Effect.addFinalizer(() =>
        Ref.get(last).pipe(
          Effect.map(Option.map((written) => (handover.owned() ? removeIfOurs(path, written) : undefined)))
        )
      )
      const pending = yield* Ref.make(Option.none<string>())
      const write = (content: string) =>
        writeAtomically(path, content).pipe(Effect.flatMap((written) => Ref.set(last, Option.some(written))))
      yield* Handover.whenOwned(
        handover,
        Effect.flatMap(Ref.getAndSet(pending, Option.none()), (content) =>
          Option.match(content, {
            onNone: () => Effect.void,
            onSome: (c) => Effect.catchAll(write(c), (e) => Effect.logError(e.message))
          })
        )
      )
      return StatusStore.StatusStore.of({
        write: (content) =>
          Effect.suspend(() => (handover.owned() ? write(content) : Ref.set(pending, Option.some(content))))
      })
    })
  )
