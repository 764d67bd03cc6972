import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { ProcessSpawner, Readiness } from "@starter/core"
import * as WorkerSpawn from "@starter/platform-shared/WorkerSpawn"
import { Effect, Fiber, Option, Schedule } from "effect"
import * as NodeProcessSpawner from "../src/NodeProcessSpawner.js"

const { Interval, NotifyFd, Ipc, SdNotify, Probe } = Readiness.Readiness

const systemdNotify = "/usr/bin/systemd-notify"

/** CI installs systemd (`.ci/run`) and sets STARTER_REQUIRE_PERL=1: there a missing tool fails. */
const noSystemdNotify = (): boolean => {
  if (fs.existsSync(systemdNotify)) return false
  if (process.env.STARTER_REQUIRE_PERL === "1")
    throw new Error(`${systemdNotify} is not installed (apt-get install -y systemd)`)
  return true
}

const freePort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo
        server.close(() => resolve(port))
      })
    })
)

const fixture = (name: string) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url))

const request = (
  argv: ProcessSpawner.SpawnRequest["argv"],
  overrides: Partial<ProcessSpawner.SpawnRequest> = {}
): ProcessSpawner.SpawnRequest => ({
  argv,
  env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  cwd: undefined,
  fds: [],
  readiness: Interval(),
  processGroup: false,
  generation: 1,
  index: 0,
  ...overrides
})

/** Spawns a worker that is killed and reaped when the test's scope closes. */
const spawnScoped = (spawnRequest: ProcessSpawner.SpawnRequest) =>
  Effect.acquireRelease(
    Effect.flatMap(ProcessSpawner.ProcessSpawner, (spawner) => spawner.spawn(spawnRequest)),
    (worker) => Effect.zipRight(worker.signal("KILL"), worker.exit)
  )

const spawnFailure = (spawnRequest: ProcessSpawner.SpawnRequest) =>
  Effect.flatMap(ProcessSpawner.ProcessSpawner, (spawner) => Effect.flip(spawner.spawn(spawnRequest)))

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "spawner-")))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** An fd of the test process, open on a fresh file whose path the worker can report. */
const openFile = (dir: string, name: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const path = nodePath.join(dir, name)
      fs.writeFileSync(path, name)
      return { path, fd: fs.openSync(path, "r") }
    }),
    ({ fd }) => Effect.sync(() => fs.closeSync(fd))
  )

const live = <A, E, R>(effect: Effect.Effect<A, E, R>) => effect.pipe(Effect.provide(NodeProcessSpawner.layer))

describe("NodeProcessSpawner", () => {
  it.scopedLive("reports an exit code", () =>
    live(
      Effect.gen(function* () {
        const worker = yield* spawnScoped(request(["sh", "-c", "exit 3"]))
        expect(worker.pid).toBeGreaterThan(0)
        expect(yield* worker.exit).toEqual({ code: 3, signal: null })
      })
    )
  )

  it.scopedLive("reports the signal that killed the worker, without SIG", () =>
    live(
      Effect.gen(function* () {
        const worker = yield* spawnScoped(request(["sleep", "30"]))
        yield* worker.signal("TERM")
        expect(yield* worker.exit).toEqual({ code: null, signal: "TERM" })
      })
    )
  )

  it.scopedLive("signal() does not wait for the worker, and is harmless after exit", () =>
    live(
      Effect.gen(function* () {
        const worker = yield* spawnScoped(request(["sh", "-c", "trap '' HUP; exec sleep 30"]))
        yield* Effect.sleep("100 millis")
        yield* worker.signal("HUP")
        expect(yield* Effect.timeoutOption(worker.exit, "200 millis")).toEqual(Option.none())
        yield* worker.signal("KILL")
        expect(yield* worker.exit).toEqual({ code: null, signal: "KILL" })
        yield* worker.signal("TERM")
        yield* worker.signal("KILL")
      })
    )
  )

  it.scopedLive("places fds at childFd 3 and 5 and leaves 4 closed", () =>
    live(
      Effect.gen(function* () {
        const dir = yield* tempDir
        const a = yield* openFile(dir, "a")
        const b = yield* openFile(dir, "b")
        const script = `[ "$(readlink /proc/self/fd/3)" = "${a.path}" ] && [ ! -e /proc/self/fd/4 ] && [ "$(readlink /proc/self/fd/5)" = "${b.path}" ]`
        const worker = yield* spawnScoped(
          request(["sh", "-c", script], {
            fds: [
              { childFd: 3, fd: a.fd },
              { childFd: 5, fd: b.fd }
            ]
          })
        )
        expect(yield* worker.exit).toEqual({ code: 0, signal: null })
      })
    )
  )

  it.scopedLive("replaces stdin when a socket is published at fd 0", () =>
    live(
      Effect.gen(function* () {
        const dir = yield* tempDir
        const a = yield* openFile(dir, "a")
        // fd 3 is the first free one: the lifeline takes it.
        const script = `[ "$(readlink /proc/self/fd/0)" = "${a.path}" ] && [ "$STARTER_SUPERVISOR_FD" = 3 ]`
        const worker = yield* spawnScoped(request(["sh", "-c", script], { fds: [{ childFd: 0, fd: a.fd }] }))
        expect(yield* worker.exit).toEqual({ code: 0, signal: null })
      })
    )
  )

  it.scopedLive("passes exactly the requested environment and cwd", () =>
    live(
      Effect.gen(function* () {
        const dir = yield* tempDir
        const out = nodePath.join(dir, "out.json")
        const env = { ONLY: "this", SPACED: "two words", EMPTY: "" }
        const worker = yield* spawnScoped(
          request([process.execPath, fixture("spawner-env.mjs"), out], { env, cwd: dir })
        )
        expect(yield* worker.exit).toEqual({ code: 0, signal: null })
        // Exactly what was asked, plus the lifeline's fd (the first free one: 3).
        expect(JSON.parse(fs.readFileSync(out, "utf8"))).toEqual({
          env: { ...env, STARTER_SUPERVISOR_FD: "3" },
          cwd: dir
        })
      })
    )
  )

  it.live("a missing program fails with Perl's exec message", () =>
    live(
      Effect.gen(function* () {
        const error = yield* spawnFailure(request(["/nonexistent/prog", "arg1"]))
        expect(error).toBeInstanceOf(ProcessSpawner.SpawnError)
        expect(error.message).toBe("failed to exec /nonexistent/prog:No such file or directory")
        expect(error.reason).toBe("exec failed: /nonexistent/prog: No such file or directory")
        expect(error.unexecutable).toBe("not-found")
      })
    )
  )

  it.live("a file without execute permission cannot run; too few fds is no such verdict", () =>
    live(
      Effect.gen(function* () {
        const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "starter-"))
        const file = nodePath.join(dir, "app.sh")
        fs.writeFileSync(file, "#!/bin/sh\n", { mode: 0o644 })
        const denied = yield* spawnFailure(request([file]))
        expect(denied.message).toBe(`failed to exec ${file}:Permission denied`)
        expect(denied.unexecutable).toBe("not-executable")
        expect(WorkerSpawn.execError("app", { errno: -24 }).unexecutable).toBeUndefined()
      })
    )
  )

  it.live("an exec failure libuv throws synchronously is a SpawnError too", () =>
    live(
      Effect.gen(function* () {
        const error = yield* spawnFailure(request(["/etc/passwd/prog"]))
        expect(error.message).toBe("failed to exec /etc/passwd/prog:Not a directory")
        expect(error.unexecutable).toBe("not-found")
      })
    )
  )

  it.live("a missing cwd fails with Perl's chdir message", () =>
    live(
      Effect.gen(function* () {
        const error = yield* spawnFailure(request(["true"], { cwd: "/nonexistent-dir" }))
        expect(error.message).toBe("failed to chdir:/nonexistent-dir:No such file or directory")
        const notDir = yield* spawnFailure(request(["true"], { cwd: "/etc/passwd" }))
        expect(notDir.message).toBe("failed to chdir:/etc/passwd:Not a directory")
      })
    )
  )

  describe("readiness", () => {
    it.scopedLive("notify-fd: READY=1 on the fd named by STARTER_NOTIFY_FD completes ready", () =>
      live(
        Effect.gen(function* () {
          const worker = yield* spawnScoped(
            request([process.execPath, fixture("spawner-notify.mjs"), "STATUS=starting\\nREADY=1\\n"], {
              readiness: NotifyFd()
            })
          )
          yield* worker.ready.pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "not ready" }))
        })
      )
    )

    it.scopedLive("notify-fd: a READY=1 without newline counts; the fd follows the sockets", () =>
      live(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const a = yield* openFile(dir, "a")
          const worker = yield* spawnScoped(
            request(
              [
                "sh",
                "-c",
                `[ "$STARTER_NOTIFY_FD" = 6 ] && [ -S /proc/self/fd/6 ] && exec "$0" "$1" "$2"`,
                process.execPath,
                fixture("spawner-notify.mjs"),
                "READY=1"
              ],
              { readiness: NotifyFd(), fds: [{ childFd: 5, fd: a.fd }] }
            )
          )
          yield* worker.ready.pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "not ready" }))
        })
      )
    )

    it.scopedLive("notify-fd: other lines and silence never complete ready", () =>
      live(
        Effect.gen(function* () {
          const other = yield* spawnScoped(
            request([process.execPath, fixture("spawner-notify.mjs"), "STATUS=READY=1\\nREADY=0\\n"], {
              readiness: NotifyFd()
            })
          )
          const silent = yield* spawnScoped(request(["sleep", "30"], { readiness: NotifyFd() }))
          expect(yield* Effect.timeoutOption(other.ready, "400 millis")).toEqual(Option.none())
          expect(yield* Effect.timeoutOption(silent.ready, "10 millis")).toEqual(Option.none())
        })
      )
    )

    it.scopedLive("notify-fd: a worker that exits without reporting stays not ready", () =>
      live(
        Effect.gen(function* () {
          const worker = yield* spawnScoped(request(["true"], { readiness: NotifyFd() }))
          expect(yield* worker.exit).toEqual({ code: 0, signal: null })
          expect(yield* Effect.timeoutOption(worker.ready, "50 millis")).toEqual(Option.none())
        })
      )
    )

    it.scopedLive("ipc: process.send('ready') completes ready", () =>
      live(
        Effect.gen(function* () {
          const worker = yield* spawnScoped(
            request([process.execPath, fixture("spawner-ipc.mjs")], { readiness: Ipc() })
          )
          yield* worker.ready.pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "not ready" }))
          yield* worker.signal("TERM")
          expect(yield* worker.exit).toEqual({ code: null, signal: "TERM" })
        })
      )
    )

    it.scopedLive("ipc: {type: 'ready'} counts, other messages do not", () =>
      live(
        Effect.gen(function* () {
          const typed = yield* spawnScoped(
            request([process.execPath, fixture("spawner-ipc.mjs"), `{"type":"ready"}`], { readiness: Ipc() })
          )
          const other = yield* spawnScoped(
            request([process.execPath, fixture("spawner-ipc.mjs"), `{"ready":false}`], { readiness: Ipc() })
          )
          yield* typed.ready.pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "not ready" }))
          expect(yield* Effect.timeoutOption(other.ready, "300 millis")).toEqual(Option.none())
        })
      )
    )

    it.scopedLive("releases the channel and the child handle once the worker has exited", () =>
      live(
        Effect.gen(function* () {
          const handles = () =>
            process.getActiveResourcesInfo().filter((r) => r === "PipeWrap" || r === "ProcessWrap").length
          const before = handles()
          // a grandchild keeps the notify fd open after the worker itself has exited
          const notify = yield* spawnScoped(request(["sh", "-c", "sleep 2 & exit 0"], { readiness: NotifyFd() }))
          const ipc = yield* spawnScoped(request([process.execPath, fixture("spawner-ipc.mjs")], { readiness: Ipc() }))
          yield* ipc.ready
          expect(handles()).toBeGreaterThan(before)
          yield* ipc.signal("KILL")
          yield* Effect.all([notify.exit, ipc.exit])
          yield* Effect.sleep("20 millis")
          expect(handles()).toBe(before)
        })
      )
    )

    describe("sd-notify", () => {
      it.scopedLive.skipIf(noSystemdNotify())(
        "systemd-notify --ready: READY=1 completes ready, and its BARRIER=1 is answered (it exits 0)",
        () =>
          live(
            Effect.gen(function* () {
              // Without --no-block, systemd-notify waits up to 5 s for the barrier and exits 1 unanswered.
              const worker = yield* spawnScoped(
                request(["sh", "-c", `${systemdNotify} --ready; code=$?; sleep 0.2; exit $code`], {
                  readiness: SdNotify()
                })
              )
              yield* worker.ready.pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "not ready" }))
              const exit = yield* worker.exit.pipe(
                Effect.timeoutFail({ duration: "3 seconds", onTimeout: () => "hung" })
              )
              expect(exit).toEqual({ code: 0, signal: null })
            })
          )
      )

      it.scopedLive.skipIf(noSystemdNotify())("systemd-notify --ready --no-block completes ready too", () =>
        live(
          Effect.gen(function* () {
            const worker = yield* spawnScoped(
              request(["sh", "-c", `${systemdNotify} --ready --no-block || exit 9; exec sleep 30`], {
                readiness: SdNotify()
              })
            )
            yield* worker.ready.pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "not ready" }))
          })
        )
      )

      it.scopedLive.skipIf(noSystemdNotify())(
        "STATUS= is the readiness detail; no READY=1, no ready; the socket goes away with the worker",
        () =>
          live(
            Effect.gen(function* () {
              const dir = yield* tempDir
              const seen = nodePath.join(dir, "socket")
              const worker = yield* spawnScoped(
                request(
                  [
                    "sh",
                    "-c",
                    `echo "$NOTIFY_SOCKET" > ${seen}; ${systemdNotify} --no-block --status="loading 40%" READY=0; exec sleep 30`
                  ],
                  { readiness: SdNotify(), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NOTIFY_SOCKET: "/x" } }
                )
              )
              const detail = yield* worker.readinessDetail.pipe(
                Effect.filterOrFail((d) => d !== undefined),
                Effect.retry(Schedule.spaced("20 millis")),
                Effect.timeout("5 seconds")
              )
              expect(detail).toBe("STATUS=loading 40%")
              expect(yield* Effect.timeoutOption(worker.ready, "200 millis")).toEqual(Option.none())
              const socket = fs.readFileSync(seen, "utf8").trim()
              expect(socket).not.toBe("/x")
              expect(fs.statSync(socket).isSocket()).toBe(true)
              yield* worker.signal("KILL")
              yield* worker.exit
              expect(fs.existsSync(socket)).toBe(false)
            })
          )
      )

      it.scopedLive("other modes never pass the supervisor's own NOTIFY_SOCKET on", () =>
        live(
          Effect.gen(function* () {
            const worker = yield* spawnScoped(
              request(["sh", "-c", `[ -z "$NOTIFY_SOCKET" ]`], {
                env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NOTIFY_SOCKET: "/run/systemd/notify" }
              })
            )
            expect(yield* worker.exit).toEqual({ code: 0, signal: null })
          })
        )
      )
    })

    describe("probes", () => {
      const listenAfter = (ms: number, port: number, status = 200) =>
        [
          process.execPath,
          "-e",
          `setTimeout(() => require("http").createServer((q, s) => { s.statusCode = ${status}; s.end() }).listen(${port}, "127.0.0.1"), ${ms})`
        ] as const

      it.scopedLive("tcp: ready once the worker listens; until then the detail is the connect error", () =>
        live(
          Effect.gen(function* () {
            const port = yield* freePort
            const worker = yield* spawnScoped(
              request([...listenAfter(400, port)], {
                readiness: Probe({ probe: Readiness.Probe.Tcp({ host: "127.0.0.1", port: String(port) }) })
              })
            )
            const racing = yield* Effect.fork(worker.ready)
            yield* Effect.sleep("250 millis")
            expect(yield* worker.readinessDetail).toBe(`tcp:127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`)
            yield* Fiber.join(racing).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "not ready" }))
          })
        )
      )

      it.scopedLive("an address that expanded into nonsense is a reason, not a crash", () =>
        live(
          Effect.gen(function* () {
            const worker = yield* spawnScoped(
              request(["sleep", "30"], {
                readiness: Probe({ probe: Readiness.Probe.Tcp({ host: "127.0.0.1", port: "99999" }) })
              })
            )
            const racing = yield* Effect.fork(worker.ready)
            const detail = yield* worker.readinessDetail.pipe(
              Effect.filterOrFail((d) => d !== undefined),
              Effect.retry(Schedule.spaced("20 millis")),
              Effect.timeout("5 seconds")
            )
            expect(detail).toMatch(/^tcp:127\.0\.0\.1:99999: .*99999/)
            expect(yield* Fiber.poll(racing)).toEqual(Option.none())
          })
        )
      )

      it.scopedLive("http: a 503 is not ready, a 200 is; {pid} expands to the worker's pid", () =>
        live(
          Effect.gen(function* () {
            const dir = yield* tempDir
            const port = yield* freePort
            const failing = yield* spawnScoped(
              request([...listenAfter(0, port, 503)], {
                readiness: Probe({ probe: Readiness.Probe.Http({ url: `http://127.0.0.1:${port}/health` }) })
              })
            )
            // Once the server answers (node's start-up takes a while under load), it answers 503.
            const answered = `http://127.0.0.1:${port}/health answered HTTP 503`
            const racing = yield* Effect.fork(failing.ready)
            const detail = yield* failing.readinessDetail.pipe(
              Effect.filterOrFail((d) => d === answered),
              Effect.retry(Schedule.spaced("20 millis")),
              Effect.timeout("10 seconds")
            )
            expect(detail).toBe(answered)
            yield* Effect.sleep("300 millis") // three more attempts
            expect(yield* Fiber.poll(racing)).toEqual(Option.none())
            // A unix socket named after the worker's own pid: the probe finds exactly this worker.
            const server = `require("http").createServer((q, s) => s.end()).listen("${dir}/" + process.pid + ".sock")`
            const worker = yield* spawnScoped(
              request([process.execPath, "-e", server], {
                readiness: Probe({ probe: Readiness.Probe.Unix({ path: `${dir}/{pid}.sock` }) })
              })
            )
            yield* worker.ready.pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "not ready" }))
          })
        )
      )
    })

    it.scopedLive("none: ready never completes", () =>
      live(
        Effect.gen(function* () {
          const worker = yield* spawnScoped(request(["sleep", "30"]))
          expect(yield* Effect.timeoutOption(worker.ready, "50 millis")).toEqual(Option.none())
        })
      )
    )
  })
})
