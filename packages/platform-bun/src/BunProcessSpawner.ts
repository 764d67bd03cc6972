/**
 * Workers as real processes under Bun: `Bun.spawn` (posix_spawn, no shell) with the layout
 * every runtime shares (`WorkerProtocol.layout`). Where Bun differs from Node's spawn:
 * - a slot that carries nothing ("ignore", fds between 3 and the highest socket) is /dev/null
 *   in the worker, where Node leaves it closed;
 * - the IPC channel (`--ready=ipc`) is a socket pair of ours at the channel's fd, as under
 *   Node (Bun's own IPC would keep any message however long, see WorkerProtocol.ipcMessages).
 */
import type { ExitStatus, ProcessSpawner } from "@starter/core"
import * as ByteEnv from "@starter/platform-shared/ByteEnv"
import * as FdSlots from "@starter/platform-shared/FdSlots"
import type * as NotifySockets from "@starter/platform-shared/NotifySockets"
import * as OrphanReaper from "@starter/platform-shared/OrphanReaper"
import type * as PipeLines from "@starter/platform-shared/PipeLines"
import * as WorkerOutput from "@starter/platform-shared/WorkerOutput"
import * as WorkerProtocol from "@starter/platform-shared/WorkerProtocol"
import * as WorkerSpawn from "@starter/platform-shared/WorkerSpawn"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as BunFdWatcher from "./BunFdWatcher.js"
import { libc } from "./BunLibc.js"
import * as BunPipe from "./BunPipe.js"
import * as Bun from "./internal/bun.js"

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
    const { stdio, env, channelFd } = WorkerProtocol.layout(request, lifeline, endpoint?.path, output)
    const ipc = request.readiness._tag === "Ipc"
    // The notify fd is a pipe of ours, not a Bun "pipe" slot: Bun never closes its end of one.
    const notifyPipe =
      channelFd !== undefined && request.readiness._tag === "NotifyFd"
        ? yield* Effect.try({
            try: libc.pipe,
            catch: (error) => {
              release()
              for (const { read, write } of output) {
                libc.close(read)
                libc.close(write)
              }
              return WorkerSpawn.execError(argv0 ?? "", error)
            }
          })
        : undefined
    const ipcPair =
      channelFd !== undefined && ipc
        ? yield* Effect.try({
            try: libc.socketPair,
            catch: (error) => {
              release()
              for (const { read, write } of output) {
                libc.close(read)
                libc.close(write)
              }
              return WorkerSpawn.execError(argv0 ?? "", error)
            }
          })
        : undefined
    const slots = stdio.map(
      (slot, fd): Bun.StdioSlot =>
        notifyPipe !== undefined && fd === channelFd
          ? notifyPipe[1]
          : ipcPair !== undefined && fd === channelFd
            ? ipcPair[1]
            : slot === "ipc" || slot === undefined
              ? "ignore"
              : slot
    )
    const launch = ByteEnv.spawnable(request.argv, env)
    let notify: PipeLines.PipeReading | undefined
    let ipcReading: PipeLines.PipeReading | undefined
    const spawn = (stdio: ReadonlyArray<Bun.StdioSlot>) =>
      Bun.api().spawn(launch.argv, {
        cwd: request.cwd,
        env: launch.env,
        stdio,
        detached: request.processGroup,
        onExit: (child, code, signal) => {
          OrphanReaper.disown(child.pid)
          notify?.destroy()
          ipcReading?.destroy()
          release()
          collectSoon()
          Deferred.unsafeDone(exit, Exit.succeed(WorkerSpawn.toExitStatus(code, signal)))
        }
      })
    const proc = yield* Effect.try({
      // Bun fills the fd slots in order: sources that are earlier slots go as copies (FdSlots).
      try: () => {
        const placed = FdSlots.placeable(libc, slots)
        try {
          return spawn(placed.stdio)
        } finally {
          placed.release()
        }
      },
      catch: (error) => {
        release()
        for (const { read } of output) libc.close(read)
        if (notifyPipe !== undefined) libc.close(notifyPipe[0])
        if (ipcPair !== undefined) libc.close(ipcPair[0])
        return WorkerSpawn.execError(argv0 ?? "", error)
      }
    }).pipe(
      // The worker has its copies of the write ends once spawned (or none if it failed to be).
      Effect.ensuring(
        Effect.sync(() => {
          for (const { write } of output) libc.close(write)
          if (notifyPipe !== undefined) libc.close(notifyPipe[1])
          if (ipcPair !== undefined) libc.close(ipcPair[1])
        })
      )
    )
    // Bun reaps it: the orphan reaper must leave its exit status alone.
    OrphanReaper.own(proc.pid)
    if (notifyPipe !== undefined) {
      const lines = WorkerProtocol.notifyLines(() => WorkerSpawn.markReady(state))
      const decoder = new TextDecoder()
      notify = BunPipe.readPipe(
        notifyPipe[0],
        (chunk) => lines.push(decoder.decode(chunk, { stream: true })),
        lines.end
      )
    }
    if (ipcPair !== undefined) {
      const messages = WorkerProtocol.ipcMessages((message) => {
        if (WorkerProtocol.isReadyMessage(message)) WorkerSpawn.markReady(state)
      })
      ipcReading = BunPipe.readPipe(ipcPair[0], messages.push, () => {})
    }
    const said =
      sink === undefined
        ? undefined
        : WorkerOutput.readPipes(BunPipe.readPipe, output, { pid: proc.pid, generation: request.generation }, sink)
    const { pid } = proc
    return {
      pid,
      signal: WorkerSpawn.groupOrChild(
        request,
        pid,
        () => proc.exitCode !== null || proc.signalCode !== null,
        (signal) => proc.kill(signal)
      ),
      exit: Deferred.await(exit),
      saidAddressInUse: WorkerSpawn.saidAddressInUse(said),
      ...WorkerSpawn.readinessOf(request, pid, state)
    } satisfies ProcessSpawner.WorkerProcess
  })

/**
 * Bun's collector lets the supervisor's heap grow by some 30 MiB over a few hundred restarts
 * before it runs by itself (figures: scripts/restart-memory.mjs). After workers exit, a full
 * collection then, at most one every `collectEveryMs` (each takes some 10 ms): the heap stays
 * near where it started, and a storm of exits costs little.
 */
const collectEveryMs = 2_000
let lastCollection = 0
let collection: ReturnType<typeof setTimeout> | undefined
const collectSoon = () => {
  if (collection !== undefined) return
  collection = setTimeout(
    () => {
      collection = undefined
      lastCollection = Date.now()
      Bun.api().gc(true)
    },
    Math.max(0, lastCollection + collectEveryMs - Date.now())
  )
  // Never what keeps the process alive.
  collection.unref()
}

export interface Options {
  /** Where the workers' stdout and stderr lines go, tagged; without it, they inherit ours. */
  readonly output?: WorkerOutput.Sink | undefined
}

export const layerWith = (options: Options): Layer.Layer<ProcessSpawner.ProcessSpawner> =>
  WorkerSpawn.layer(
    libc,
    () => BunFdWatcher.make(libc),
    (request, lifeline, notifySockets) => spawnWorker(request, lifeline, notifySockets, options.output)
  )

export const layer: Layer.Layer<ProcessSpawner.ProcessSpawner> = layerWith({})
