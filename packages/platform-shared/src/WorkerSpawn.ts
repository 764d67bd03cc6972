/**
 * What every runtime's process spawner does the same way around its own spawn call: the
 * checks before it, the output pipes, the readiness state a worker's channel reports into,
 * and the `WorkerProcess` fields that do not depend on how the child was started.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { ExitStatus, ProcessSpawner, Readiness, Signal } from "@starter/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ByteEnv from "./ByteEnv.js"
import type * as FdWatcher from "./FdWatcher.js"
import type * as Libc from "./Libc.js"
import * as NodeReadinessProbe from "./NodeReadinessProbe.js"
import * as NotifySockets from "./NotifySockets.js"
import { errnoOf, strerror } from "./SystemError.js"
import type * as WorkerOutput from "./WorkerOutput.js"
import type * as WorkerProtocol from "./WorkerProtocol.js"

/**
 * Perl dies in the child with `failed to chdir:$dir:$!` and exit status errno; we check
 * before spawning instead.
 */
export const chdirProblem = (cwd: string): ProcessSpawner.SpawnError | undefined => {
  const failed = (error: unknown) =>
    new ProcessSpawner.SpawnError({
      message: `failed to chdir:${cwd}:${strerror(error)}`,
      exitCode: errnoOf(error) ?? 255,
      reason: `chdir failed: ${cwd}: ${strerror(error)}`
    })
  try {
    return fs.statSync(cwd).isDirectory() ? undefined : failed({ errno: 20 /* ENOTDIR */ })
  } catch (error) {
    return failed(error)
  }
}

/** execvp's search: a name with a slash is a path (from `cwd`); else each PATH entry in turn. */
const lookUp = (program: string, env: Readonly<Record<string, string>>, cwd: string | undefined): unknown => {
  const candidates = program.includes("/")
    ? [path.resolve(cwd ?? ".", program)]
    : (env.PATH ?? "/usr/bin:/bin").split(":").map((dir) => path.resolve(cwd ?? ".", dir || ".", program))
  let denied: unknown
  for (const file of candidates) {
    try {
      fs.accessSync(file, fs.constants.X_OK)
      if (!fs.statSync(file).isDirectory()) return undefined
      denied = { errno: 13 /* EACCES: exec of a directory */ }
    } catch (error) {
      // A file that is there but not executable is the answer, unless a later entry runs.
      if (errnoOf(error) !== 2 && errnoOf(error) !== 20) denied ??= error
    }
  }
  return denied ?? { errno: 2 /* ENOENT */ }
}

/**
 * When a shell stands in front of the program (LISTEN_PID, environment bytes that are not
 * UTF-8), the exec failure the shell would hide as its exit 127, reported as exec reports it.
 * Checked before anything is opened for the worker.
 */
export const programProblem = (request: ProcessSpawner.SpawnRequest): ProcessSpawner.SpawnError | undefined => {
  const { program } = request
  const launch = ByteEnv.spawnable(request.argv, request.env).argv
  if (program === undefined || launch[0] !== "/bin/sh" || program === "/bin/sh") return undefined
  const problem = lookUp(program, request.env, request.cwd)
  return problem === undefined ? undefined : execError(program, problem)
}

/** An exit as Node and Bun report it: a code, or the name of the signal (`SIGTERM`). */
export const toExitStatus = (code: number | null, signal: string | null): ExitStatus.ExitStatus => {
  if (signal !== null) {
    const name = signal.replace(/^SIG/, "")
    // The runtime names every Linux signal it can report; an unknown one cannot be described better.
    return Signal.isSignalName(name) ? ExitStatus.killedBy(name) : { code: null, signal: null }
  }
  return ExitStatus.exited(code ?? 0)
}

/**
 * Pipes for fds 1 and 2, unless a socket sits there. Real pipes, as Node's "pipe" (a socket
 * pair) is not: a worker can open /dev/stdout on a pipe. Both ends are close-on-exec, so only
 * this worker gets its write end (at fd 1 or 2, where spawn places it).
 */
export const outputPipes = (
  libc: Libc.Service,
  request: ProcessSpawner.SpawnRequest
): ReadonlyArray<WorkerProtocol.OutputPipe> => {
  const pipes: Array<WorkerProtocol.OutputPipe> = []
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

/** `outputPipes` as an effect: a failure releases `release` and is a spawn error. */
export const openOutputPipes = (
  libc: Libc.Service,
  request: ProcessSpawner.SpawnRequest,
  release: () => void
): Effect.Effect<ReadonlyArray<WorkerProtocol.OutputPipe>, ProcessSpawner.SpawnError> =>
  Effect.try({
    try: () => outputPipes(libc, request),
    catch: (error) => {
      release()
      return new ProcessSpawner.SpawnError({ message: `failed to create a pipe:${strerror(error)}`, exitCode: 255 })
    }
  })

/** Whether `pid` is stopped by a signal (state T in /proc), not merely sleeping. */
export const isStopped = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.charAt(stat.lastIndexOf(")") + 2) === "T"
  } catch {
    return false
  }
}

/** exec's errnos that no retry can help (see `ProcessSpawner.Unexecutable`). */
const unexecutableBy: ReadonlyMap<number, ProcessSpawner.Unexecutable> = new Map([
  [2 /* ENOENT */, "not-found"],
  [20 /* ENOTDIR */, "not-found"],
  [40 /* ELOOP */, "not-found"],
  [36 /* ENAMETOOLONG */, "not-found"],
  [13 /* EACCES */, "not-executable"],
  [8 /* ENOEXEC */, "not-executable"],
  [21 /* EISDIR */, "not-executable"]
])

/** Perl's line, the reason in words, and whether the program can run at all. */
export const execError = (argv0: string, error: unknown) => {
  const errno = errnoOf(error)
  return new ProcessSpawner.SpawnError({
    message: `failed to exec ${argv0}:${strerror(error)}`,
    exitCode: 255,
    reason: `exec failed: ${argv0}: ${strerror(error)}`,
    unexecutable: errno === undefined ? undefined : unexecutableBy.get(errno)
  })
}

/** How long an exited worker's output may take to end before its exit is reported without it. */
export const outputGraceMs = 200

/** `WorkerProcess.saidAddressInUse`, from what its output said (`undefined`: not read). */
export const saidAddressInUse = (said: WorkerOutput.Said | undefined): Effect.Effect<boolean | undefined> =>
  said === undefined ? Effect.succeed(undefined) : Effect.promise(() => said.addressInUse(outputGraceMs))

/** What the worker's readiness channel has said so far. */
export interface ReadinessState {
  readonly ready: Deferred.Deferred<void>
  /** The last probe failure, or the worker's last sd_notify STATUS. */
  detail: string | undefined
}

export const makeReadinessState: Effect.Effect<ReadinessState> = Effect.map(Deferred.make<void>(), (ready) => ({
  ready,
  detail: undefined
}))

export const markReady = (state: ReadinessState): void => void Deferred.unsafeDone(state.ready, Exit.void)

/** The worker's own NOTIFY_SOCKET, reporting into `state`. */
export const openNotifySocket = (
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

/** The worker's `ready` and `readinessDetail`, once it runs as `pid`. */
export const readinessOf = (
  request: ProcessSpawner.SpawnRequest,
  pid: number,
  state: ReadinessState
): Pick<ProcessSpawner.WorkerProcess, "ready" | "readinessDetail"> => {
  const { readiness } = request
  const probe =
    readiness._tag === "Probe"
      ? Readiness.expandProbe(readiness.probe, { pid, index: request.index, generation: request.generation })
      : undefined
  return {
    ready:
      readiness._tag === "Interval"
        ? Effect.never
        : probe !== undefined
          ? NodeReadinessProbe.untilReady(probe, (why) => {
              state.detail = why
            })
          : Deferred.await(state.ready),
    readinessDetail: Effect.sync(() => state.detail)
  }
}

/**
 * `signal(name)` of a worker, given how to send one: a stopped worker (SIGSTOP, ^Z) holds the
 * signal pending and would drain forever, so it is woken, as systemd does. A running one is
 * never sent CONT.
 */
export const signalling =
  (pid: number, send: (signal: NodeJS.Signals) => void) =>
  (name: Signal.SignalName): Effect.Effect<void> =>
    Effect.sync(() => {
      send(`SIG${name}` as NodeJS.Signals)
      if (name !== "KILL" && name !== "STOP" && isStopped(pid)) send("SIGCONT")
    })

/**
 * A worker's `signal`: the whole process group with `--signal-process-group` while the leader
 * is not reaped (once it is, its pid may be reused), else the child alone. `reaped` and
 * `kill` are the runtime's view of its child.
 */
export const groupOrChild = (
  request: ProcessSpawner.SpawnRequest,
  pid: number,
  reaped: () => boolean,
  kill: (signal: NodeJS.Signals) => void
) =>
  signalling(pid, (signal) => {
    try {
      if (request.processGroup && !reaped()) process.kill(-pid, signal)
      else kill(signal)
    } catch {
      // nothing to do: the worker is gone or the signal cannot be delivered
    }
  })

/** How a runtime starts one worker, given the lifeline's read end and the notify sockets. */
export type SpawnWorker = (
  request: ProcessSpawner.SpawnRequest,
  lifeline: number,
  notifySockets: () => NotifySockets.NotifySockets
) => Effect.Effect<ProcessSpawner.WorkerProcess, ProcessSpawner.SpawnError>

/**
 * The spawner around a runtime's `spawnWorker`: one lifeline for all workers (we keep the
 * write end, close-on-exec, never written), and the notify sockets, made on the first
 * sd-notify worker (other modes need no socket and no watcher).
 */
export const layer = (
  libc: Libc.Service,
  watcher: () => FdWatcher.FdWatcher,
  spawnWorker: SpawnWorker
): Layer.Layer<ProcessSpawner.ProcessSpawner> =>
  Layer.scoped(
    ProcessSpawner.ProcessSpawner,
    Effect.gen(function* () {
      const [read] = yield* Effect.acquireRelease(Effect.sync(libc.pipe), ([read, write]) =>
        Effect.sync(() => {
          libc.close(read)
          libc.close(write)
        })
      )
      let sockets: NotifySockets.NotifySockets | undefined
      yield* Effect.addFinalizer(() => Effect.sync(() => sockets?.close()))
      const notifySockets = () => {
        sockets ??= NotifySockets.make(libc, watcher())
        return sockets
      }
      return ProcessSpawner.ProcessSpawner.of({ spawn: (request) => spawnWorker(request, read, notifySockets) })
    })
  )
