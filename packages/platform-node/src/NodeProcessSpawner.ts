/**
 * Workers as real processes: `spawn` without a shell, in the supervisor's process group
 * (Perl's fork+exec), with each listening socket placed at its published fd.
 *
 * Divergence from Perl: Perl workers inherit SIGPIPE ignored; libuv resets every signal
 * disposition in the child, so ours start with the default SIGPIPE action.
 */

import { type ChildProcess, spawn } from "node:child_process"
import { Readable } from "node:stream"
import type { ExitStatus, ProcessSpawner, Readiness } from "@starter/core"
import * as ByteEnv from "@starter/platform-shared/ByteEnv"
import type * as NotifySockets from "@starter/platform-shared/NotifySockets"
import * as OrphanReaper from "@starter/platform-shared/OrphanReaper"
import * as WorkerOutput from "@starter/platform-shared/WorkerOutput"
import * as WorkerProtocol from "@starter/platform-shared/WorkerProtocol"
import * as WorkerSpawn from "@starter/platform-shared/WorkerSpawn"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as FdWatcher from "./internal/FdWatcher.js"
import { libc } from "./NodeLibc.js"
import * as NodePipe from "./NodePipe.js"

/** Reads a notify-fd stream to its end (a chatty worker never blocks on a full pipe). */
const watchNotifyStream = (stream: Readable, onReady: () => void): void => {
  const lines = WorkerProtocol.notifyLines(onReady)
  stream.setEncoding("utf8")
  stream.on("data", lines.push)
  stream.on("end", lines.end)
  // A worker that closes or breaks the channel simply never reports ready.
  stream.on("error", () => {})
}

/** Wires a started child to the worker's deferreds and releases everything at its exit. */
const attach = (
  child: ChildProcess,
  channel: WorkerProtocol.Layout["channelFd"],
  readiness: Readiness.Readiness,
  ipc: number | undefined,
  exit: Deferred.Deferred<ExitStatus.ExitStatus>,
  markReady: () => void,
  release: () => void
): void => {
  const notifyStream = readiness._tag === "NotifyFd" && channel !== undefined ? child.stdio[channel] : undefined
  if (notifyStream instanceof Readable) watchNotifyStream(notifyStream, markReady)
  const messages = WorkerProtocol.ipcMessages((message) => {
    if (WorkerProtocol.isReadyMessage(message)) markReady()
  })
  const ipcReading = ipc === undefined ? undefined : NodePipe.readPipe(ipc, messages.push, () => {})
  child.once("exit", (code, signal) => {
    // A grandchild may still hold the channel: close our end so nothing keeps the loop alive.
    if (notifyStream instanceof Readable) notifyStream.destroy()
    ipcReading?.destroy()
    release()
    Deferred.unsafeDone(exit, Exit.succeed(WorkerSpawn.toExitStatus(code, signal)))
  })
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
      const problem = WorkerSpawn.chdirProblem(request.cwd)
      if (problem !== undefined) return yield* problem
    }
    const unexecutable = WorkerSpawn.programProblem(request)
    if (unexecutable !== undefined) return yield* unexecutable
    const exit = yield* Deferred.make<ExitStatus.ExitStatus>()
    const state = yield* WorkerSpawn.makeReadinessState
    const endpoint =
      request.readiness._tag === "SdNotify" ? yield* WorkerSpawn.openNotifySocket(notifySockets(), state) : undefined
    const release = () => endpoint?.close()
    const output = sink === undefined ? [] : yield* WorkerSpawn.openOutputPipes(libc, request, release)
    // The worker has its copies of the write ends once spawned (or none if it failed to be).
    const closeWriteEnds = () => {
      for (const { write } of output) libc.close(write)
    }
    const closeReadEnds = () => {
      for (const { read } of output) libc.close(read)
    }
    const laidOut = WorkerProtocol.layout(request, lifeline, endpoint?.path, output)
    const { channelFd } = laidOut
    // --ready=ipc: a socket pair of ours at the channel's fd (see WorkerProtocol.ipcMessages).
    const ipc =
      request.readiness._tag === "Ipc"
        ? yield* Effect.try({
            try: libc.socketPair,
            catch: (error) => {
              release()
              closeWriteEnds()
              closeReadEnds()
              return WorkerSpawn.execError(argv0, error)
            }
          })
        : undefined
    const stdio = laidOut.stdio.map((slot, fd) => (ipc !== undefined && fd === channelFd ? ipc[1] : slot))
    const closeChannel = (end: 0 | 1) => {
      if (ipc !== undefined) libc.close(ipc[end])
    }
    // Values that are not UTF-8 (from an envdir) go through /bin/sh, byte for byte.
    const launch = ByteEnv.spawnable(request.argv, laidOut.env)
    let said: WorkerOutput.Said | undefined
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
        OrphanReaper.ownChild(child)
      } catch (error) {
        // libuv reports most exec failures synchronously as a throw...
        release()
        closeWriteEnds()
        closeReadEnds()
        closeChannel(0)
        closeChannel(1)
        return resume(Effect.fail(WorkerSpawn.execError(argv0, error)))
      }
      closeWriteEnds()
      closeChannel(1)
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
        closeChannel(0)
        resume(Effect.fail(WorkerSpawn.execError(argv0, error)))
      })
      if (child.pid === undefined) return
      if (sink !== undefined) {
        said = WorkerOutput.readPipes(
          NodePipe.readPipe,
          output,
          { pid: child.pid, generation: request.generation },
          sink
        )
      }
      attach(child, channelFd, request.readiness, ipc?.[0], exit, () => WorkerSpawn.markReady(state), release)
      resume(Effect.succeed(child))
    })
    const pid = child.pid ?? 0
    return {
      pid,
      // child.kill (not process.kill) is a no-op once Node has reaped the child, so a
      // recycled pid is never hit; ESRCH/EPERM surface as ignored 'error' events or throws.
      signal: WorkerSpawn.groupOrChild(
        request,
        pid,
        () => child.exitCode !== null || child.signalCode !== null,
        (signal) => child.kill(signal)
      ),
      exit: Deferred.await(exit),
      saidAddressInUse: WorkerSpawn.saidAddressInUse(said),
      ...WorkerSpawn.readinessOf(request, pid, state)
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
  WorkerSpawn.layer(libc, FdWatcher.make, (request, lifeline, notifySockets) =>
    spawnWorker(request, lifeline, notifySockets, options.output)
  )

export const layer: Layer.Layer<ProcessSpawner.ProcessSpawner> = layerWith({})
