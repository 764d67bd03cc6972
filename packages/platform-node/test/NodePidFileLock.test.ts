import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { PidFile } from "@starter/core"
import * as NodePidFile from "@starter/platform-shared/NodePidFile"
import { Effect, Exit, Scope } from "effect"
import * as NodeStarterServices from "../src/NodeStarterServices.js"

const acquire = (file: string, pid: number) =>
  Effect.flatMap(PidFile.PidFile, (p) => p.acquire(file, pid)).pipe(
    Effect.provide(NodePidFile.layer),
    Effect.provide(NodeStarterServices.libcLayer)
  )

const tmpFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pidfile-")), "start_server.pid")

describe("NodePidFile", () => {
  it.effect("writes the pid with a newline and removes the file when the scope closes", () =>
    Effect.gen(function* () {
      const file = tmpFile()
      const scope = yield* Scope.make()
      yield* Scope.extend(acquire(file, 4242), scope)
      expect(fs.readFileSync(file, "utf8")).toBe("4242\n")
      yield* Scope.close(scope, Exit.void)
      expect(fs.existsSync(file)).toBe(false)
    })
  )

  it.effect("a second instance is refused and leaves the first one's file alone", () =>
    Effect.gen(function* () {
      const file = tmpFile()
      const scope = yield* Scope.make()
      yield* Scope.extend(acquire(file, 1111), scope)
      // flock locks belong to the open file description: a second open conflicts even in-process.
      const second = yield* Effect.exit(Effect.scoped(acquire(file, 2222)))
      expect(second).toStrictEqual(
        Exit.fail(
          new PidFile.PidFileError({
            message: `pid file ${file} is locked by a running start_server (pid 1111)`,
            errno: undefined
          })
        )
      )
      expect(fs.readFileSync(file, "utf8")).toBe("1111\n")
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.live("the lock is a real flock(2): flock(1) cannot take it while we hold it", () =>
    Effect.gen(function* () {
      const file = tmpFile()
      const scope = yield* Scope.make()
      yield* Scope.extend(acquire(file, 77), scope)
      const status = yield* Effect.promise(
        () =>
          new Promise<number | null>((resolve) =>
            spawn("flock", ["--nonblock", file, "true"], { stdio: "ignore" }).once("exit", (code) => resolve(code))
          )
      )
      expect(status).toBe(1)
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.effect("a pid file replaced by someone else meanwhile is not deleted", () =>
    Effect.gen(function* () {
      const file = tmpFile()
      const scope = yield* Scope.make()
      yield* Scope.extend(acquire(file, 1), scope)
      fs.unlinkSync(file)
      fs.writeFileSync(file, "999\n")
      yield* Scope.close(scope, Exit.void)
      expect(fs.readFileSync(file, "utf8")).toBe("999\n")
    })
  )
})
