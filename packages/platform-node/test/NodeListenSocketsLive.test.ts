import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ListenSockets, ListenSpec } from "@starter/core"
import * as NodeListenSockets from "@starter/platform-shared/NodeListenSockets"
import { Effect, Either, Exit, Scope } from "effect"
import * as NodeStarterServices from "../src/NodeStarterServices.js"

const spec = (value: string) => Either.getOrThrow(ListenSpec.parsePort(value))

const open = (specs: ReadonlyArray<ListenSpec.ListenSpec>, backlog?: number) =>
  Effect.flatMap(ListenSockets.ListenSockets, (s) => s.open(specs, { backlog })).pipe(
    Effect.provide(NodeListenSockets.layer),
    Effect.provide(NodeStarterServices.libcLayer)
  )

const freePort = (host = "127.0.0.1"): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const fdFlags = (fd: number) => {
  const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8")
  return Number.parseInt(/flags:\s+(\d+)/.exec(info)![1]!, 8)
}
const O_NONBLOCK = 0o4000
const O_CLOEXEC = 0o2000000

const connects = (port: number, host: string) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, host)
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "sockets-"))

describe("NodeListenSockets", () => {
  it.scopedLive("TCP: listening, blocking, close-on-exec, with the requested backlog", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(() => freePort())
      const [bound] = yield* open([spec(`127.0.0.1:${port}`)], 7)
      expect(fdFlags(bound!.fd) & O_NONBLOCK).toBe(0)
      expect(fdFlags(bound!.fd) & O_CLOEXEC).toBe(O_CLOEXEC)
      // Nobody accepts, yet the connection succeeds: it waits in the backlog.
      expect(yield* Effect.promise(() => connects(port, "127.0.0.1"))).toBe(true)
      const ss = execFileSync("ss", ["-ltnH", `sport = :${port}`], { encoding: "utf8" })
      expect(ss.trim().split(/\s+/)[2]).toBe("7")
    })
  )

  it.scopedLive("the default backlog is the kernel's SOMAXCONN", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(() => freePort())
      yield* open([spec(`127.0.0.1:${port}`)])
      const ss = execFileSync("ss", ["-ltnH", `sport = :${port}`], { encoding: "utf8" })
      expect(Number(ss.trim().split(/\s+/)[2])).toBe(NodeListenSockets.kernelSomaxconn())
    })
  )

  it.scopedLive("IPv6 sockets are V6ONLY, so the IPv4 wildcard can be bound beside them", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(() => freePort())
      const bound = yield* open([spec(`[::]:${port}`), spec(`0.0.0.0:${port}`)])
      expect(bound.map((b) => b.spec.key)).toEqual([`[::]:${port}`, `0.0.0.0:${port}`])
    })
  )

  it.scopedLive("UDP ports are bound and published under the port key", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(() => freePort())
      const [bound] = yield* open([spec(`127.0.0.1:u${port}`)])
      expect(bound!.spec.key).toBe(`127.0.0.1:${port}`)
      const ss = execFileSync("ss", ["-lunH", `sport = :${port}`], { encoding: "utf8" })
      expect(ss).toContain(`127.0.0.1:${port}`)
    })
  )

  it.effect("a busy port fails with Perl's message and errno 98", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(() => freePort())
      const exit = yield* Effect.exit(
        Effect.scoped(Effect.zipRight(open([spec(`127.0.0.1:${port}`)]), open([spec(`127.0.0.1:${port}`)])))
      )
      expect(exit).toStrictEqual(
        Exit.fail(
          new ListenSockets.ListenError({
            message: `failed to bind to 127.0.0.1:${port}:Address already in use`,
            errno: 98
          })
        )
      )
    })
  )

  it.effect("an unresolvable host fails like Perl's gethostbyname", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Effect.scoped(open([spec("no.such.host.invalid:80")])))
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain(
        "failed to resolve host:no.such.host.invalid"
      )
    })
  )

  it.effect("a failure half way closes the sockets already opened", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(() => freePort())
      const exit = yield* Effect.exit(Effect.scoped(open([spec(`127.0.0.1:${port}`), spec("abc.invalid:1")])))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* Effect.promise(() => connects(port, "127.0.0.1"))).toBe(false)
    })
  )

  it.effect("unix sockets: mode 0777, a stale socket is replaced, the path is removed at the end", () =>
    Effect.gen(function* () {
      const file = path.join(tmp(), "app.sock")
      // A socket file left behind: bound by a process that is gone, nothing listens there.
      execFileSync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", file])
      const scope = yield* Scope.make()
      yield* Scope.extend(open([ListenSpec.unixSpec(file)]), scope)
      // Replaced: the new file accepts (the stale one refused). Not by inode: tmpfs may give the
      // new file the number the removed one had.
      expect(fs.statSync(file).isSocket()).toBe(true)
      expect(fs.statSync(file).mode & 0o777).toBe(0o777)
      const reachable = yield* Effect.promise(
        () =>
          new Promise<boolean>((resolve) => {
            const socket = net.connect(file)
            socket.once("connect", () => resolve(socket.destroy() !== undefined))
            socket.once("error", () => resolve(false))
          })
      )
      expect(reachable).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect(fs.existsSync(file)).toBe(false)
    })
  )

  it.effect("a socket something still listens on is refused (exit 98) and left to its owner", () =>
    Effect.gen(function* () {
      const file = path.join(tmp(), "app.sock")
      const live = net.createServer().listen(file)
      yield* Effect.promise(() => new Promise((resolve) => live.once("listening", resolve)))
      const before = fs.statSync(file).ino
      const result = yield* Effect.either(Effect.scoped(open([ListenSpec.unixSpec(file)])))
      expect(Either.isLeft(result) && { message: result.left.message, errno: result.left.errno }).toEqual({
        message: `failed to listen to file ${file}:Address already in use`,
        errno: 98
      })
      expect(fs.statSync(file).ino).toBe(before)
      yield* Effect.promise(() => new Promise((resolve) => live.close(resolve)))
    })
  )

  it.effect("a path that is not a socket is refused and left untouched", () =>
    Effect.gen(function* () {
      const file = path.join(tmp(), "notes.txt")
      fs.writeFileSync(file, "precious")
      const exit = yield* Effect.exit(Effect.scoped(open([ListenSpec.unixSpec(file)])))
      expect(exit).toStrictEqual(
        Exit.fail(
          new ListenSockets.ListenError({ message: `refusing to replace ${file}: not a socket`, errno: undefined })
        )
      )
      expect(fs.readFileSync(file, "utf8")).toBe("precious")
    })
  )
})
