/**
 * The control socket: a unix stream socket (mode 0600, owner only) speaking JSON lines.
 * A Node net.Server is right here (unlike for the service sockets): the supervisor is
 * the only party meant to accept these connections.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePath from "node:path"
import { ControlServer } from "@starter/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Scheduler from "effect/Scheduler"
import * as Stream from "effect/Stream"
import * as Handover from "./Handover.js"
import * as Libc from "./Libc.js"
import { AF_UNIX, maxUnixPath, SOCK_STREAM, sockaddrUn } from "./Sockaddr.js"
import { errnoOf, strerror } from "./SystemError.js"
import { answers } from "./UnixProbe.js"

const fail = (message: string, errno?: number) => new ControlServer.ControlServerError({ message, errno })

/**
 * A socket left by a killed supervisor is replaced. One that a running start_server still
 * listens on is not (that one would lose its control socket), nor is any other file.
 */
const clearPath = (path: string) =>
  Effect.gen(function* () {
    // Node would bind a truncated path, whose file then blocks the next start: refuse, as --path does.
    if (Buffer.byteLength(path) > maxUnixPath) {
      return yield* fail(`failed to listen on ${path}:File name too long`, 36 /* ENAMETOOLONG */)
    }
    const stats = (stat: () => fs.Stats | undefined) =>
      Effect.try({
        try: stat,
        catch: (error) => fail(`failed to listen on ${path}:${strerror(error)}`, errnoOf(error))
      })
    // libuv reports a missing directory as EACCES (for Windows' sake): say what it is.
    const dir = yield* stats(() => fs.statSync(nodePath.dirname(path), { throwIfNoEntry: false }))
    if (dir === undefined) return yield* fail(`failed to listen on ${path}:${strerror({ errno: 2 })}`, 2)
    const stat = yield* stats(() => fs.lstatSync(path, { throwIfNoEntry: false }))
    if (stat === undefined) return
    if (!stat.isSocket()) return yield* fail(`refusing to replace ${path}: not a socket`)
    if (yield* answers(path)) return yield* fail(`control socket ${path} is in use by another process`, 98)
    yield* Effect.try({
      try: () => fs.unlinkSync(path),
      catch: (error) => fail(`failed to remove ${path}:${strerror(error)}`, errnoOf(error))
    })
  })

const maxLine = 64 * 1024
/**
 * Bounds that keep control traffic from ever delaying signals, child exits and timers, or
 * growing the supervisor's memory: connections at once (more are refused with a line that
 * says why), and requests in progress per connection. A connection is read further only
 * while fewer requests are in progress and its replies have been taken by the client.
 */
export const maxConnections = 256
const maxInFlight = 8
/**
 * How long a client told to go (refused, idle, or at the exit) has to read why before its
 * connection is cut off. With the drain below, the exit waits for clients 0.8 s at most.
 */
const refusedLingerMs = 300

const controlScheduler = Scheduler.make((task) => void setImmediate(task))

/**
 * How long closing waits for the replies in progress to end (a subscription's last events, a
 * follower's last lines) before it ends their connections: a client that reads nothing must
 * not hold the supervisor's exit.
 */
export const drainTimeoutMs = 500

/**
 * Writes one reply line; a stream of them (`subscribe`, `logs -f`) waits while the client has
 * not taken the last ones, so what waits for a slow client stays in that stream's own bound.
 */
const send = (connection: net.Socket, reply: string): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (connection.destroyed || connection.write(`${reply}\n`)) return resume(Effect.void)
    const done = () => {
      connection.off("drain", done)
      connection.off("close", done)
      resume(Effect.void)
    }
    connection.on("drain", done)
    connection.on("close", done)
    return Effect.sync(() => {
      connection.off("drain", done)
      connection.off("close", done)
    })
  })

const errorLine = (error: string) => `${JSON.stringify({ v: 1, id: null, ok: false, error })}\n`

export interface Options {
  /**
   * A connection with nothing in progress that sends nothing for this long is closed, so that
   * idle clients cannot hold every one of the `maxConnections` places.
   */
  readonly idleTimeoutMs: number
  /**
   * Who owns the control socket's file (`start_server upgrade`, see Handover); default: this
   * process. A process that does not own it yet (a new supervisor) starts accepting only once
   * it does; one that no longer owns it stops, and never removes the file.
   */
  readonly handover?: Handover.Handover | undefined
  /**
   * Whether this runtime can accept on a socket it did not bind itself (Node can, Bun cannot).
   * Where it can, the socket is bound here and listened on by descriptor, which a new
   * supervisor inherits; where not, the runtime binds the path, and a new supervisor binds a
   * socket of its own beside it and renames it over the path once in charge. Default: true.
   */
  readonly acceptsOnInheritedSocket?: boolean | undefined
  /**
   * A new supervisor's control socket: the old supervisor's listening descriptor, inherited.
   * It is accepted on only once this process owns the shared files; its file is never bound
   * again.
   */
  readonly adopted?: number | undefined
}

/**
 * Binds the socket file (mode 0600 from birth: the umask applies inside bind) and listens.
 * Bound here rather than by Node, whose close() unlinks the path: after a handover the file
 * is the new supervisor's, and only an owner removes it.
 */
const bindUnix = (libc: Libc.Service, path: string): Effect.Effect<number, ControlServer.ControlServerError> =>
  Effect.try({
    try: () => {
      const fd = libc.socket(AF_UNIX, SOCK_STREAM)
      const umask = process.umask(0o177)
      try {
        libc.bind(fd, sockaddrUn(path))
        libc.listen(fd, 511)
        return fd
      } catch (error) {
        libc.close(fd)
        throw error
      } finally {
        process.umask(umask)
      }
    },
    catch: (error) => fail(`failed to listen on ${path}:${strerror(error)}`, errnoOf(error))
  })

/** The socket file, if it is still the one bound at `fd` (nobody replaced it meanwhile). */
const removeIfOurs = (path: string, identity: { readonly dev: number; readonly ino: number }) => {
  try {
    const stat = fs.lstatSync(path)
    if (stat.isSocket() && stat.dev === identity.dev && stat.ino === identity.ino) fs.unlinkSync(path)
  } catch {
    // gone already
  }
}

/**
 * A free name for a new supervisor's control socket, to be renamed over `path`: beside it (the
 * same directory, for rename), shorter where the path is near the limit. A file there, of
 * whatever kind, is someone else's: never removed, another name is taken.
 */
const besidePath = (path: string): Effect.Effect<string, ControlServer.ControlServerError> =>
  Effect.gen(function* () {
    const bases = [`${path}.${process.pid}`, nodePath.join(nodePath.dirname(path), `.${process.pid}`)]
    const base = bases.find((c) => Buffer.byteLength(c) <= maxUnixPath) ?? bases[0]!
    const candidates = [base, ...Array.from({ length: 9 }, (_, i) => `${base}.${i + 1}`)].filter(
      (c) => Buffer.byteLength(c) <= maxUnixPath
    )
    const free = candidates.find((c) => fs.lstatSync(c, { throwIfNoEntry: false }) === undefined)
    if (free === undefined) return yield* fail(`no free name beside ${path} (${base} and the like exist)`)
    if (free !== base)
      yield* Effect.logWarning(`${base} exists (not ours): the control socket is bound at ${free}, then moved`)
    return free
  })

type HandleLine = (line: string, closing: Effect.Effect<void>) => Stream.Stream<string>

/**
 * The server, not listening yet, and how to close it: `stopAccepting` is called first, with
 * what to call once every connection is gone.
 */
const makeServer = (options: Options, handleLine: HandleLine) =>
  Effect.gen(function* () {
    const run = yield* FiberSet.makeRuntime<never>()
    const connections = new Set<net.Socket>()
    const closing = yield* Deferred.make<void>()
    // Every request in progress, on any connection: closing waits for them.
    const inProgress = new Set<ReturnType<typeof run>>()
    // Refused connections, until their clients go: close() waits for every connection.
    const refused = new Set<net.Socket>()
    let draining = false
    const server = net.createServer((connection) => {
      connection.on("error", () => {})
      if (connections.size >= maxConnections) {
        connection.end(errorLine(`too many control connections (${maxConnections}); try again later`))
        // A client that never closes its side would hold the socket, and the exit, for good.
        refused.add(connection)
        connection.once("close", () => refused.delete(connection))
        setTimeout(() => connection.destroy(), refusedLingerMs).unref()
        return
      }
      connections.add(connection)
      let buffer = ""
      // Complete request lines not started yet: at most one read's worth, since reading pauses.
      const pending: Array<string> = []
      const running = new Set<ReturnType<typeof run>>()
      let inFlight = 0
      const pump = () => {
        // Closing: the requests in progress finish; no other starts.
        if (draining) return
        while (pending.length > 0 && inFlight < maxInFlight && !connection.writableNeedDrain) {
          const line = pending.shift()!
          inFlight += 1
          // A request may finish inside run(), before run() returns its fiber.
          let fiber: ReturnType<typeof run> | undefined
          let finished = false
          fiber = run(
            Stream.runForEach(handleLine(line, Deferred.await(closing)), (reply) => send(connection, reply)).pipe(
              // Each step of a request waits for a turn of the event loop, so signals, child
              // exits and timers always come first (Effect's default runs steps as microtasks,
              // thousands of them before the loop turns).
              Effect.withScheduler(controlScheduler),
              Effect.ensuring(
                Effect.sync(() => {
                  finished = true
                  inFlight -= 1
                  armIdle()
                  if (fiber !== undefined) {
                    running.delete(fiber)
                    inProgress.delete(fiber)
                  }
                  // After the current event: a burst of requests never runs as one long task.
                  setImmediate(pump)
                })
              )
            )
          )
          if (!finished) {
            running.add(fiber)
            inProgress.add(fiber)
          }
        }
        if (pending.length === 0 && !connection.writableNeedDrain) connection.resume()
        else connection.pause()
      }
      connection.setEncoding("utf8")
      connection.on("drain", pump)
      // Idle counts from the last complete request line (or the end of the last request), not
      // from the last byte: a client that drips a byte at a time is idle too. A subscription
      // is in progress however quiet it is: only a connection doing nothing goes.
      let idleTimer: ReturnType<typeof setTimeout> | undefined
      const armIdle = () => {
        clearTimeout(idleTimer)
        if (connection.destroyed) return
        idleTimer = setTimeout(() => {
          if (inFlight > 0 || pending.length > 0) return armIdle()
          connection.end(errorLine(`idle for ${options.idleTimeoutMs / 1000} s; closing the connection`))
          setTimeout(() => connection.destroy(), refusedLingerMs).unref()
        }, options.idleTimeoutMs)
        idleTimer.unref()
      }
      armIdle()
      connection.on("data", (chunk: string) => {
        buffer += chunk
        if (buffer.length > maxLine && !buffer.includes("\n")) {
          connection.end(errorLine("request line too long"))
          return
        }
        const lines = buffer.split("\n")
        buffer = lines.pop() ?? ""
        if (lines.length > 0) armIdle()
        for (const line of lines) if (line.trim() !== "") pending.push(line.trim())
        pump()
      })
      // A client that goes away ends its subscriptions and waits.
      connection.once("close", () => {
        clearTimeout(idleTimer)
        connections.delete(connection)
        pending.length = 0
        for (const fiber of running) fiber.unsafeInterruptAsFork(fiber.id())
      })
    })
    // A subscriber never ends its connection by itself: end every one, so that close()
    // (which waits for them) returns; a peer that does not close its side is cut off.
    const endConnections = () => {
      for (const connection of refused) connection.destroy()
      for (const connection of connections) {
        connection.end()
        setTimeout(() => connection.destroy(), refusedLingerMs).unref()
      }
    }
    // The replies in progress end first (bounded), so that a subscriber gets the last events
    // and lines, queued for it but not written yet when the scope began to close.
    const close = (stopAccepting: (closed: () => void) => void): Effect.Effect<void> =>
      Effect.gen(function* () {
        const closed = new Promise<void>((resolve) => stopAccepting(resolve))
        draining = true
        yield* Deferred.succeed(closing, undefined)
        // Finalizers are uninterruptible: the wait must be made interruptible for the timeout.
        yield* Effect.timeoutOption(Effect.interruptible(Fiber.awaitAll([...inProgress])), drainTimeoutMs)
        endConnections()
        yield* Effect.promise(() => closed)
      })
    return { server, close }
  })

const listenError = (path: string, error: Error) =>
  fail(`failed to listen on ${path}:${strerror(error)}`, errnoOf(error))

/** Starts `server` accepting on `target` (a path, whose file listen() creates, or a descriptor). */
const listenOn = (server: net.Server, target: string | { readonly fd: number }, path: string) =>
  Effect.async<void, ControlServer.ControlServerError>((resume) => {
    server.once("error", (error) => resume(Effect.fail(listenError(path, error))))
    // A socket file created inside listen(): a umask makes it 0600 from birth.
    const umask = process.umask(0o177)
    try {
      server.listen(target, () => resume(Effect.void))
    } finally {
      process.umask(umask)
    }
  })

/** The socket file's identity: only while `path` is still that file is it removed at the end. */
const identityOf = (path: string) => Effect.sync(() => fs.lstatSync(path, { throwIfNoEntry: false }))

const listen =
  (libc: Libc.Service, options: Options, handover: Handover.Handover) => (path: string, handleLine: HandleLine) =>
    Effect.gen(function* () {
      const byFd = options.acceptsOnInheritedSocket ?? true
      const { server, close } = yield* makeServer(options, handleLine)
      let phase: "unused" | "accepting" | "closed" = "unused"
      let identity: { readonly dev: number; readonly ino: number } | undefined
      // An inherited descriptor is ours until listened on (or given up): closed once at most.
      let adopted = options.adopted
      const closeAdopted = () => {
        if (adopted !== undefined) libc.close(adopted)
        adopted = undefined
      }
      // Makes the socket file at `at`, then accepts. By descriptor where the runtime can: its
      // close() then unlinks nothing, and the descriptor can be handed over.
      const bindAndListen = (at: string) =>
        Effect.gen(function* () {
          if (!byFd) {
            handover.control = { fd: undefined, stopAccepting }
            return yield* listenOn(server, at, path)
          }
          const fd = yield* bindUnix(libc, at)
          handover.control = { fd, stopAccepting }
          return yield* listenOn(server, { fd }, path)
        })
      // Once a new supervisor is in charge: this one accepts no more. Bun cannot stop without
      // unlinking the path (the new supervisor's file by now): it keeps what is queued.
      const stopAccepting = () => {
        if (phase !== "accepting" || !byFd) return
        phase = "closed"
        server.close()
      }
      yield* Effect.addFinalizer(() =>
        close((closed) => {
          const done = () => {
            if (identity !== undefined && handover.owned()) removeIfOurs(path, identity)
            closed()
          }
          if (phase === "accepting" && (byFd || handover.owned())) server.close(done)
          else {
            // Never listened on: an inherited descriptor is still ours to close. Handed over
            // under Bun: its close() would unlink the new supervisor's file.
            if (phase === "unused") closeAdopted()
            if (phase === "accepting") server.unref()
            done()
          }
          phase = "closed"
        })
      )
      if (handover.owned()) {
        yield* clearPath(path)
        yield* bindAndListen(path)
        phase = "accepting"
        identity = yield* identityOf(path)
        return
      }
      // A new supervisor accepts only once it is in charge; until then the old one answers. On
      // the descriptor it inherited, or (where it cannot accept on that one, or got none) on a
      // socket of its own, renamed over the path: clients reach one or the other, never none.
      const takeOver =
        adopted !== undefined && byFd
          ? Effect.gen(function* () {
              const fd = adopted!
              adopted = undefined
              handover.control = { fd, stopAccepting }
              yield* listenOn(server, { fd }, path)
              phase = "accepting"
              identity = yield* identityOf(path)
            })
          : Effect.gen(function* () {
              // An inherited descriptor this runtime cannot accept on is of no use here.
              closeAdopted()
              const beside = yield* besidePath(path)
              yield* bindAndListen(beside)
              phase = "accepting"
              yield* Effect.try({
                try: () => fs.renameSync(beside, path),
                catch: (error) => fail(`failed to move ${beside} to ${path}:${strerror(error)}`, errnoOf(error))
              })
              identity = yield* identityOf(path)
            })
      // Part of the handover: the new supervisor confirms it only once it accepts here.
      yield* Handover.addTakeOverStep(
        handover,
        Effect.suspend(() => (phase === "unused" ? takeOver : Effect.void)).pipe(
          Effect.mapError((error) => `cannot take the control socket over: ${error.message}`)
        )
      )
    })

export const layerWith = (options: Options): Layer.Layer<ControlServer.ControlServer, never, Libc.Libc> =>
  Layer.effect(
    ControlServer.ControlServer,
    Effect.map(Libc.Libc, (libc) =>
      ControlServer.ControlServer.of({ listen: listen(libc, options, options.handover ?? Handover.owner()) })
    )
  )

export const layer: Layer.Layer<ControlServer.ControlServer, never, Libc.Libc> = layerWith({ idleTimeoutMs: 60_000 })
