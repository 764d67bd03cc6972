import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { StatusStore } from "@starter/core"
import * as NodeStatusStore from "@starter/platform-shared/NodeStatusStore"
import { type Context, Effect } from "effect"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(nodePath.join(os.tmpdir(), "status-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** Runs `body` with a store for `path`, closing the store's scope (its guard) at the end. */
const withStore = <A, E>(
  path: string,
  body: (store: Context.Tag.Service<StatusStore.StatusStore>) => Effect.Effect<A, E>
) => Effect.flatMap(StatusStore.StatusStore, body).pipe(Effect.provide(NodeStatusStore.layer(path)))

const write = (content: string) => (store: Context.Tag.Service<StatusStore.StatusStore>) => store.write(content)

describe("NodeStatusStore", () => {
  it.scopedLive("writes atomically through <file>.<pid> and leaves no temp file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = nodePath.join(dir, "status")
      yield* withStore(path, (store) =>
        Effect.gen(function* () {
          yield* store.write("1:100\n")
          expect(fs.readFileSync(path, "utf8")).toBe("1:100\n")
          yield* store.write("1:100\n2:200\n")
          expect(fs.readFileSync(path, "utf8")).toBe("1:100\n2:200\n")
          yield* store.write("")
          expect(fs.readFileSync(path, "utf8")).toBe("")
          expect(fs.readdirSync(dir)).toEqual(["status"])
        })
      )
    })
  )

  it.scopedLive("removes the file at scope close when this process wrote it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = nodePath.join(dir, "status")
      yield* withStore(path, write("1:100\n"))
      expect(fs.existsSync(path)).toBe(false)
    })
  )

  it.scopedLive("leaves a file it never wrote (Perl PR #32)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = nodePath.join(dir, "status")
      fs.writeFileSync(path, "7:700\n")
      yield* withStore(path, () => Effect.void)
      expect(fs.readFileSync(path, "utf8")).toBe("7:700\n")
    })
  )

  it.scopedLive("leaves the file when someone else replaced it after our write", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = nodePath.join(dir, "status")
      yield* withStore(path, (store) =>
        Effect.gen(function* () {
          yield* store.write("1:100\n")
          const other = nodePath.join(dir, "other")
          fs.writeFileSync(other, "9:900\n")
          fs.renameSync(other, path)
        })
      )
      expect(fs.readFileSync(path, "utf8")).toBe("9:900\n")
    })
  )

  it.scopedLive("fails with Perl's message when the temp file cannot be created", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // root ignores permissions, so a missing parent directory is the portable failure
      const path = nodePath.join(dir, "missing", "status")
      const error = yield* Effect.flip(withStore(path, write("1:100\n")))
      expect(error).toBeInstanceOf(StatusStore.StatusWriteError)
      expect(error.message).toBe(`failed to create temporary file:${path}.${process.pid}:No such file or directory`)
    })
  )

  it.scopedLive("fails with Perl's message when the rename fails, and removes the temp file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = nodePath.join(dir, "status")
      fs.mkdirSync(path)
      fs.writeFileSync(nodePath.join(path, "keep"), "")
      const error = yield* Effect.flip(withStore(path, write("1:100\n")))
      expect(error.message).toBe(`failed to rename ${path}.${process.pid} to ${path}:Is a directory`)
      expect(fs.readdirSync(dir)).toEqual(["status"])
      expect(fs.readdirSync(path)).toEqual(["keep"])
    })
  )
})
