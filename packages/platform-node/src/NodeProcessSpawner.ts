/**
 * Workers as real processes: `spawn` without a shell, in the supervisor's process group
 * (Perl's fork+exec), with each listening socket placed at its published fd.
 *
 * Divergence from Perl: Perl workers inherit SIGPIPE ignored; libuv resets every signal
 * disposition in the child, so ours start with the default SIGPIPE action.
 */

import { type ChildProcess, type StdioOptions, spawn } from "node:child_process"
import * as fs from "node:fs"
import { Readable } from "node:stream"
import { ExitStatus, ProcessSpawner, Readiness, Signal } from "@starter/core"
import * as ByteEnv from "@starter/platform-shared/ByteEnv"
import * as NodeReadinessProbe from "@starter/platform-shared/NodeReadinessProbe"
import * as NotifySockets from "@starter/platform-shared/NotifySockets"
import { errnoOf, strerror } from "@starter/platform-shared/SystemError"
import type * as WorkerOutput from "@starter/platform-shared/WorkerOutput"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as FdWatcher from "./internal/FdWatcher.js"
import { libc } from "./NodeLibc.js"
import * as NodeWorkerOutput from "./NodeWorkerOutput.js"
import * as OrphanReaper from "./OrphanReaper.js"

/** The variable that tells a `notify-fd` worker where to write `READY=1`. */
export const notifyFdVariable = "STARTER_NOTIFY_FD"

/**
 * The variable naming the worker's end of the lifeline: a pipe whose other end only the
 * supervisor holds, so reading it reaches EOF when the supervisor dies (even by SIGKILL).
 */
export const lifelineFdVariable = "STARTER_SUPERVISOR_FD"

/**
 * Perl dies in the child with `failed to chdir:$dir:$!` and exit status errno; we check
 * before spawning instead.
 */
const chdirProblem = (cwd: string): ProcessSpawner.SpawnError | undefined => {
  const failed = (error: unknown) =>
    new ProcessSpawner.SpawnError({
      message: `failed to chdir:${cwd}:${strerror(error)}`,
      exitCode: errnoOf(error) ?? 255
    })
  try {
    return fs.statSync(cwd).isDirectory() ? undefined : failed({ errno: 20 /* ENOTDIR */ })
  } catch (error) {
    return failed(error)
  }
}

const toExitStatus = (code: number | null, signal: NodeJS.Signals | null): ExitStatus.ExitStatus => {
  if (signal !== null) {
    const name = signal.replace(/^SIG/, "")
    // Node names every Linux signal it can report; an unknown one cannot be described better.
    return Signal.isSignalName(name) ? ExitStatus.killedBy(name) : { code: null, signal: null }
  }
  return ExitStatus.exited(code ?? 0)
}

interface Layout {
  readonly stdio: StdioOptions
  readonly env: Record<string, string>
  /** Where the readiness channel sits in the worker, if it has one Node provides. */
  readonly channelFd: number | undefined
}

/** A tagged worker's stdout or stderr: the pipe's read end is the supervisor's. */
interface OutputPipe {
  readonly stream: WorkerOutput.StreamName
  readonly read: number
  readonly write: number
}

/**
 * Pipes for fds 1 and 2, unless a socket sits there. Real pipes, as Node's "pipe" (a socket
 * pair) is not: a worker can open /dev/stdout on a pipe. Both ends are close-on-exec, so only
 * this worker gets its write end (at fd 1 or 2, where spawn places it).
 */
const outputPipes = (request: ProcessSpawner.SpawnRequest): ReadonlyArray<OutputPipe> => {
  const pipes: Array<OutputPipe> = []
  try {
    for (const [i, stream] of (["stdout", "stderr"] as const).entries()) {
      if (request.fds.some(({ childFd }) => childFd === i + 1)) continue
      const [read, write] = libc.pipe()
      pipes.push({ stream, read, write })
    }
    return pipes
  } catch (error) {
    for (const { read, write } of pipes) {
      libc.close(read)
      libc.close(write)
    }
    throw error
  }
}

/**
 * fds 0-2 inherit the supervisor's unless a socket replaces them; fds between 3 and the
 * highest socket that carry nothing are closed in the worker ('ignore'). The readiness
 * channel takes the first fd after the sockets; an sd_notify socket is named in the
 * environment instead.
 */
const layout = (
  request: ProcessSpawner.SpawnRequest,
  lifeline: number,
  notifySocket: string | undefined,
  output: ReadonlyArray<OutputPipe>
): Layout => {
  const highest = request.fds.reduce((max, { childFd }) => Math.max(max, childFd), 2)
  const stdio: Array<"inherit" | "ignore" | "pipe" | "ipc" | number> = []
  for (let i = 0; i <= highest; i++) stdio.push(i < 3 ? "inherit" : "ignore")
  for (const { stream, write } of output) stdio[stream === "stdout" ? 1 : 2] = write
  for (const { childFd, fd } of request.fds) stdio[childFd] = fd
  const env = { ...request.env }
  const channelFd = highest + 1
  const withLifeline = (next: number, channel: number | undefined): Layout => {
    stdio[next] = lifeline
    env[lifelineFdVariable] = String(next)
    return { stdio, env, channelFd: channel }
  }
  // Only the worker's own channel: never one inherited from the supervisor's environment
  // (start_server may itself run under systemd, or as another start_server's worker).
  delete env.NOTIFY_SOCKET
  delete env[notifyFdVariable]
  switch (request.readiness._tag) {
    case "NotifyFd":
      stdio[channelFd] = "pipe"
      env[notifyFdVariable] = String(channelFd)
      return withLifeline(channelFd + 1, channelFd)
    case "Ipc":
      // Node announces the channel to the worker itself (NODE_CHANNEL_FD).
      stdio[channelFd] = "ipc"
      return withLifeline(channelFd + 1, channelFd)
    case "SdNotify":
      if (notifySocket !== undefined) env.NOTIFY_SOCKET = notifySocket
      return withLifeline(channelFd, undefined)
    case "Interval":
    case "Probe":
      return withLifeline(channelFd, undefined)
  }
}

const isReadyMessage = (message: unknown): boolean => {
  if (message === "ready") return true
  if (typeof message !== "object" || message === null) return false
  const { ready, type } = message as { ready?: unknown; type?: unknown }
  return ready === true || type === "ready"
}

const maxNotifyLine = 4096

/** sd_notify-style lines on a stream; calls `onReady` at the first `READY=1`. */
const watchNotifyStream = (stream: Readable, onReady: () => void): void => {
  let pending = ""
  const check = (line: string) => {
    if (line === "READY=1") onReady()
  }
  stream.setEncoding("utf8")
  // Keep reading after READY=1 too, so a chatty worker never blocks on a full socket buffer.
  stream.on("data", (chunk: string) => {
    const lines = (pending + chunk).split("\n")
    // A line longer than any notify message is noise; do not let it grow without bound.
    pending = (lines.pop() ?? "").slice(-maxNotifyLine)
    lines.forEach(check)
    // sd_notify writers often send `READY=1` with no newline and keep the fd open.
    check(pending)
  })
  stream.on("end", () => check(pending))
  // A worker that closes or breaks the channel simply never reports ready.
  stream.on("error", () => {})
}

/** Wires a started child to the worker's deferreds and releases everything at its exit. */
const attach = (
  child: ChildProcess,
  channel: Layout["channelFd"],
  readiness: Readiness.Readiness,
  exit: Deferred.Deferred<ExitStatus.ExitStatus>,
  markReady: () => void,
  release: () => void
): void => {
  const notifyStream = readiness._tag === "NotifyFd" && channel !== undefined ? child.stdio[channel] : undefined
  if (notifyStream instanceof Readable) watchNotifyStream(notifyStream, markReady)
  const onMessage = (message: unknown) => {
    if (isReadyMessage(message)) markReady()
  }
  if (readiness._tag === "Ipc") child.on("message", onMessage)
  child.once("exit", (code, signal) => {
    child.off("message", onMessage)
    // A grandchild may still hold the channel: close our end so nothing keeps the loop alive.
    if (notifyStream instanceof Readable) notifyStream.destroy()
    if (child.connected) child.disconnect()
    release()
    Deferred.unsafeDone(exit, Exit.succeed(toExitStatus(code, signal)))
  })
}

/** Whether `pid` is stopped by a signal (state T in /proc), not merely sleeping. */
const isStopped = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.charAt(stat.lastIndexOf(")") + 2) === "T"
  } catch {
    return false
  }
}

const execError = (argv0: string, error: unknown) =>
  new ProcessSpawner.SpawnError({ message: `failed to exec ${argv0}:${strerror(error)}`, exitCode: 255 })

/** What the worker's readiness channel has said so far. */
interface ReadinessState {
  readonly ready: Deferred.Deferred<void>
  /** The last probe failure, or the worker's last sd_notify STATUS. */
  detail: string | undefined
}

const markReady = (state: ReadinessState): void => void Deferred.unsafeDone(state.ready, Exit.void)

/** The worker's own NOTIFY_SOCKET, reporting into `state`. */
const openNotifySocket = (
  sockets: NotifySockets.NotifySockets,
  state: ReadinessState
): Effect.Effect<NotifySockets.Endpoint, ProcessSpawner.SpawnError> =>
  Effect.try({
    try: () =>
      sockets.open((fields) => {
        const status = fields.get("STATUS")
        if (status !== undefined) state.detail = `STATUS=${status}`
        if (fields.get("READY") === "1") markReady(state)
      }),
    catch: (error) =>
      new ProcessSpawner.SpawnError({ message: `failed to create NOTIFY_SOCKET:${strerror(error)}`, exitCode: 255 })
  })

/** Reads the worker's pipes into `sink`, tagged with its pid and generation. */
const readOutput = (output: ReadonlyArray<OutputPipe>, worker: WorkerOutput.Worker, sink: WorkerOutput.Sink): void => {
  for (const { stream, read } of output) NodeWorkerOutput.readLines(read, (flow) => sink.open(worker, stream, flow))
}

const spawnWorker = (
  request: ProcessSpawner.SpawnRequest,
  lifeline: number,
  notifySockets: () => NotifySockets.NotifySockets,
  sink: WorkerOutput.Sink | undefined
): Effect.Effect<ProcessSpawner.WorkerProcess, ProcessSpawner.SpawnError> =>
  Effect.gen(function* () {
    const [argv0] = request.argv
    if (request.cwd !== undefined) {
      const problem = chdirProblem(request.cwd)
      if (problem !== undefined) return yield* problem
    }
    const exit = yield* Deferred.make<ExitStatus.ExitStatus>()
    const state: ReadinessState = { ready: yield* Deferred.make<void>(), detail: undefined }
    const endpoint = request.readiness._tag === "SdNotify" ? yield* openNotifySocket(notifySockets(), state) : undefined
    const release = () => endpoint?.close()
    const output =
      sink === undefined
        ? []
        : yield* Effect.try({
            try: () => outputPipes(request),
            catch: (error) => {
              release()
              return new ProcessSpawner.SpawnError({
                message: `failed to create a pipe:${strerror(error)}`,
                exitCode: 255
              })
            }
          })
    // The worker has its copies of the write ends once spawned (or none if it failed to be).
    const closeWriteEnds = () => {
      for (const { write } of output) libc.close(write)
    }
    const closeReadEnds = () => {
      for (const { read } of output) libc.close(read)
    }
    const laidOut = layout(request, lifeline, endpoint?.path, output)
    const { stdio, channelFd } = laidOut
    // Values that are not UTF-8 (from an envdir) go through /bin/sh, byte for byte.
    const launch = ByteEnv.spawnable(request.argv, laidOut.env)
    const child = yield* Effect.async<ChildProcess, ProcessSpawner.SpawnError>((resume) => {
      let child: ChildProcess
      try {
        // detached = setsid: the worker leads its own process group, which we then signal whole.
        const [file, ...rest] = launch.argv
        child = spawn(file, rest, {
          cwd: request.cwd,
          env: launch.env,
          stdio,
          detached: request.processGroup,
          shell: false
        })
        OrphanReaper.own(child)
      } catch (error) {
        // libuv reports most exec failures synchronously as a throw...
        release()
        closeWriteEnds()
        closeReadEnds()
        return resume(Effect.fail(execError(argv0, error)))
      }
      closeWriteEnds()
      // ...and ENOENT/EACCES/EAGAIN/EMFILE as an 'error' event with no 'exit' after it.
      // The listener stays for the life of the child: an unhandled 'error' would crash us.
      let failed = false
      child.on("error", (error) => {
        if (child.pid !== undefined || failed) return
        failed = true
        // Without file descriptors (EMFILE) Node may not have made the stdio array at all.
        for (const stream of child.stdio ?? []) stream?.destroy()
        release()
        closeReadEnds()
        resume(Effect.fail(execError(argv0, error)))
      })
      if (child.pid === undefined) return
      if (sink !== undefined) {
        readOutput(output, { pid: child.pid, generation: request.generation }, sink)
      }
      attach(child, channelFd, request.readiness, exit, () => markReady(state), release)
      resume(Effect.succeed(child))
    })
    const pid = child.pid ?? 0
    const { readiness } = request
    const probe =
      readiness._tag === "Probe"
        ? Readiness.expandProbe(readiness.probe, {
            pid,
            index: request.index,
            generation: request.generation
          })
        : undefined
    return {
      pid,
      // child.kill (not process.kill) is a no-op once Node has reaped the child, so a
      // recycled pid is never hit; ESRCH/EPERM surface as ignored 'error' events or throws.
      signal: (name) =>
        Effect.sync(() => {
          const send = (signal: NodeJS.Signals) => {
            try {
              // The group outlives its leader only while members remain; once the leader is
              // reaped its pid may be reused, so the group is signalled only before that.
              if (request.processGroup && child.exitCode === null && child.signalCode === null) {
                process.kill(-pid, signal)
              } else child.kill(signal)
            } catch {
              // nothing to do: the worker is gone or the signal cannot be delivered
            }
          }
          send(`SIG${name}` as NodeJS.Signals)
          // A stopped worker (SIGSTOP, ^Z) holds the signal pending and would drain forever:
          // wake it, as systemd does. A running one is never sent CONT.
          if (name !== "KILL" && name !== "STOP" && isStopped(pid)) send("SIGCONT")
        }),
      exit: Deferred.await(exit),
      ready:
        readiness._tag === "Interval"
          ? Effect.never
          : probe !== undefined
            ? NodeReadinessProbe.untilReady(probe, (why) => {
                state.detail = why
              })
            : Deferred.await(state.ready),
      readinessDetail: Effect.sync(() => state.detail)
    } satisfies ProcessSpawner.WorkerProcess
  })

export interface Options {
  /**
   * Where the workers' stdout and stderr lines go, tagged (`NodeLogs`); without it, workers
   * write to the fds they inherit from the supervisor, as in Perl.
   */
  readonly output?: WorkerOutput.Sink | undefined
}

export const layerWith = (options: Options): Layer.Layer<ProcessSpawner.ProcessSpawner> =>
  Layer.scoped(
    ProcessSpawner.ProcessSpawner,
    Effect.gen(function* () {
      // One lifeline for all workers: we keep the write end (close-on-exec, never written).
      const [read] = yield* Effect.acquireRelease(Effect.sync(libc.pipe), ([read, write]) =>
        Effect.sync(() => {
          libc.close(read)
          libc.close(write)
        })
      )
      // Created on the first sd-notify worker: other modes need no socket and no waiting thread.
      let sockets: NotifySockets.NotifySockets | undefined
      yield* Effect.addFinalizer(() => Effect.sync(() => sockets?.close()))
      const notifySockets = () => {
        sockets ??= NotifySockets.make(libc, FdWatcher.make())
        return sockets
      }
      return ProcessSpawner.ProcessSpawner.of({
        spawn: (request) => spawnWorker(request, read, notifySockets, options.output)
      })
    })
  )

export const layer: Layer.Layer<ProcessSpawner.ProcessSpawner> = layerWith({})
