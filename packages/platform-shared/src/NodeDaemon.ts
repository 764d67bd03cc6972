/**
 * `--daemonize` without fork(2). The foreground process binds the sockets (so bind errors
 * and their exit codes are reported where the operator is looking), then starts a copy of
 * itself in a new session (setsid), handing it the bound sockets and a report pipe. The
 * foreground exits 0 once the daemon's first generation serves, else with the daemon's error
 * code and reason (see Serve's `daemonFailure`). Perl's foreground parent exits before the
 * daemon writes its pid file; waiting closes that race for scripts that run `--stop` (or talk
 * to the server) right after.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import type { ListenSockets } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as ByteEnv from "./ByteEnv.js"
import * as FdSlots from "./FdSlots.js"
import * as Libc from "./Libc.js"
import type * as LogFile from "./LogFile.js"
import { writeStderr } from "./Stderr.js"

const handoffVariable = "STARTER_DAEMON_HANDOFF"

/** What the foreground hands to the daemon: fds in the daemon. */
const Handoff = Schema.Struct({
  report: Schema.Int,
  sockets: Schema.Array(Schema.Int),
  /** The `--log-file` the foreground opened (Perl's child inherits it the same way). */
  log: Schema.optional(Schema.Int)
})
export type Handoff = typeof Handoff.Type

/**
 * In the daemon: the handoff, if this process is one (and removed from the workers' env);
 * `Left` when what it was handed cannot be read.
 */
export const takeHandoff = (libc: Libc.Service): Either.Either<Handoff, string> | undefined => {
  const raw = process.env[handoffVariable]
  if (raw === undefined) return undefined
  delete process.env[handoffVariable]
  return Either.map(
    Either.mapLeft(
      Schema.decodeUnknownEither(Schema.parseJson(Handoff))(raw),
      (e) => `${handoffVariable}: ${e.message}`
    ),
    (handoff) => {
      // Inherited fds are not close-on-exec; workers must get them only where they are placed.
      for (const fd of [handoff.report, ...handoff.sockets, ...(handoff.log === undefined ? [] : [handoff.log])]) {
        libc.setCloexec(fd)
      }
      return handoff
    }
  )
}

/** In the daemon: tell the foreground how start-up went (`undefined` = serving). */
export const report = (
  handoff: Handoff,
  failure: { readonly exitCode: number; readonly message: string } | undefined
): Effect.Effect<void, never, Libc.Libc> =>
  Effect.map(Libc.Libc, (libc) => {
    try {
      fs.writeSync(handoff.report, failure === undefined ? "ok\n" : `${failure.exitCode} ${failure.message}\n`)
    } catch {
      // the foreground is gone: nobody to tell
    }
    libc.close(handoff.report)
  })

/** In the foreground: start the daemon and answer the exit code for this process. */
export const spawnDaemon = (
  argv: ReadonlyArray<string>,
  sockets: ReadonlyArray<ListenSockets.BoundSocket>,
  log: LogFile.LogTarget | undefined
): Effect.Effect<number, never, Libc.Libc> =>
  Effect.flatMap(Libc.Libc, (libc) =>
    Effect.async<number>((resume) => {
      const [read, write] = libc.pipe()
      const first = 4
      const handoff: Handoff = {
        report: 3,
        sockets: sockets.map((_, i) => first + i),
        log: log === undefined ? undefined : first + sockets.length
      }
      const script = process.argv[1] ?? ""
      // stdin is /dev/null (Perl reopens it); the daemon re-points 1 and 2 at --log-file itself.
      const placed = FdSlots.placeable(libc, [
        "ignore",
        "inherit",
        "inherit",
        write,
        ...sockets.map((s) => s.fd),
        ...(log === undefined ? [] : [log.fd])
      ] as const)
      // Arguments that are not UTF-8 keep their bytes (through /bin/sh, see ByteEnv).
      const launch = ByteEnv.spawnable([process.execPath, ...process.execArgv, script, ...argv], {
        ...ByteEnv.definedOnly(process.env),
        [handoffVariable]: JSON.stringify(handoff)
      })
      const [file, ...args] = launch.argv
      const daemon = spawn(file, args, { detached: true, stdio: [...placed.stdio], env: launch.env })
      placed.release()
      daemon.on("error", (error) => {
        writeStderr(`failed to start the daemon: ${error.message}\n`)
        resume(Effect.succeed(255))
      })
      daemon.unref()
      libc.close(write)
      let answer = ""
      const stream = fs.createReadStream("", { fd: read })
      stream.on("data", (chunk) => {
        answer += chunk.toString()
      })
      stream.on("close", () => {
        const line = answer.split("\n")[0] ?? ""
        if (line === "ok") return resume(Effect.succeed(0))
        const m = /^(\d+) (.*)$/.exec(line)
        writeStderr(`${m === null ? "the daemon exited during start-up" : m[2]}\n`)
        resume(Effect.succeed(m === null ? 1 : Number(m[1])))
      })
    })
  )
