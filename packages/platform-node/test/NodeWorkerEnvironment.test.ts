import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { WorkerEnvironment } from "@starter/core"
import { overlay, readEnvdir } from "@starter/platform-shared/Envdir"
import * as NodeWorkerEnvironment from "@starter/platform-shared/NodeWorkerEnvironment"
import { Effect } from "effect"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(nodePath.join(os.tmpdir(), "envdir-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const load = Effect.flatMap(WorkerEnvironment.WorkerEnvironment, (environment) => environment.reload)

describe("Envdir.readEnvdir", () => {
  it.scopedLive("first line only, empty file unset, blank line empty, hidden and bad names ignored", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const put = (name: string, content: string) => fs.writeFileSync(nodePath.join(dir, name), content)
      put("FOO", "foo1\nsecondline\n")
      put("EMPTY", "")
      put("BLANKLINE", "\n")
      put(".HIDDEN", "hidden")
      put("NOEOL", "value")
      put("CR", "value\r\n")
      put("A=B", "x")
      fs.mkdirSync(nodePath.join(dir, "SUBDIR"))
      fs.symlinkSync(nodePath.join(dir, "missing"), nodePath.join(dir, "DANGLING"))
      expect(readEnvdir(dir)).toEqual({ FOO: "foo1", BLANKLINE: "", NOEOL: "value", CR: "value\r" })
    })
  )

  it.scopedLive("reads no more of a huge file than a worker's environment could carry (128 KiB)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // 64 MiB with no newline: read whole, it would cost the supervisor that much per event.
      const file = nodePath.join(dir, "HUGE")
      const chunk = Buffer.alloc(1024 * 1024, "a")
      const fd = fs.openSync(file, "w")
      for (let i = 0; i < 64; i++) fs.writeSync(fd, chunk)
      fs.closeSync(fd)
      fs.writeFileSync(nodePath.join(dir, "LONGLINE"), `${"b".repeat(200_000)}\nsecond\n`)
      const before = process.memoryUsage().arrayBuffers
      const env = readEnvdir(dir)
      expect(env.HUGE?.length).toBe(131_072)
      expect(env.LONGLINE).toBe("b".repeat(131_072))
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024)
    })
  )

  it.live("a missing directory or a file in its place sets nothing", () =>
    Effect.sync(() => {
      expect(readEnvdir("/nonexistent-envdir")).toEqual({})
      expect(readEnvdir("/etc/passwd")).toEqual({})
    })
  )
})

describe("Envdir.overlay", () => {
  it("applies overlays in order and drops undefined base values", () => {
    expect(overlay({ A: "base", B: undefined, C: "c" }, { A: "one" }, { A: "two", D: "" })).toEqual({
      A: "two",
      C: "c",
      D: ""
    })
  })
})

describe("NodeWorkerEnvironment", () => {
  it.scopedLive("Perl §15.18: a deleted file reverts to its startup value, else to the inherited one", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = (name: string) => nodePath.join(dir, name)
      fs.writeFileSync(file("FOO"), "foo1\nsecondline\n")
      fs.writeFileSync(file("EMPTY"), "")
      fs.writeFileSync(file("BLANKLINE"), "\n")
      fs.writeFileSync(file(".HIDDEN"), "hidden")
      const base = { FOO: "outer", PATH: "/bin", EMPTY: undefined }
      const environment = yield* WorkerEnvironment.WorkerEnvironment.pipe(
        Effect.provide(NodeWorkerEnvironment.layer({ envdir: dir, base }))
      )
      const gen1 = yield* environment.current
      expect(gen1).toEqual({ FOO: "foo1", BLANKLINE: "", PATH: "/bin" })

      fs.writeFileSync(file("FOO"), "foo2\n")
      // Read only when Perl's loop would read it: current is what the last read found.
      expect((yield* environment.current).FOO).toBe("foo1")
      const gen2 = yield* environment.reload
      expect(yield* environment.current).toEqual(gen2)
      expect([gen2.FOO, gen2.BAR]).toEqual(["foo2", undefined])

      fs.rmSync(file("FOO"))
      fs.writeFileSync(file("BAR"), "bar1\n")
      const gen3 = yield* environment.reload
      expect([gen3.FOO, gen3.BAR]).toEqual(["foo1", "bar1"])

      fs.rmSync(file("BAR"))
      const gen4 = yield* environment.reload
      expect([gen4.FOO, gen4.BAR]).toEqual(["foo1", undefined])
      expect(gen4).not.toHaveProperty("BAR")
    })
  )

  it.scopedLive("a variable added after startup and then deleted reverts to the inherited value", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const base = { QUX: "outer" }
      const layer = NodeWorkerEnvironment.layer({ envdir: dir, base })
      yield* Effect.gen(function* () {
        fs.writeFileSync(nodePath.join(dir, "QUX"), "inner\n")
        expect(yield* load).toEqual({ QUX: "inner" })
        fs.rmSync(nodePath.join(dir, "QUX"))
        expect(yield* load).toEqual({ QUX: "outer" })
      }).pipe(Effect.provide(layer))
    })
  )

  it.scopedLive("an envdir created after startup is read at the next reload", () =>
    Effect.gen(function* () {
      const parent = yield* tempDir
      const dir = nodePath.join(parent, "later")
      const layer = NodeWorkerEnvironment.layer({ envdir: dir, base: {} })
      yield* Effect.gen(function* () {
        expect(yield* load).toEqual({})
        fs.mkdirSync(dir)
        fs.writeFileSync(nodePath.join(dir, "LATE"), "yes\n")
        expect(yield* load).toEqual({ LATE: "yes" })
      }).pipe(Effect.provide(layer))
    })
  )

  it.live("without an envdir, reload is the base environment (process.env by default)", () =>
    Effect.gen(function* () {
      expect(
        yield* load.pipe(Effect.provide(NodeWorkerEnvironment.layer({ envdir: undefined, base: { A: "1" } })))
      ).toEqual({
        A: "1"
      })
      const inherited = yield* load.pipe(Effect.provide(NodeWorkerEnvironment.layer({ envdir: undefined })))
      expect(inherited.PATH).toBe(process.env.PATH)
    })
  )
})
