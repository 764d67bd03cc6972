/**
 * Port: starting worker processes. Workers are spawned directly (no shell), in the
 * supervisor's process group, with the listening sockets placed at their published fds.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type { ExitStatus } from "./ExitStatus.js"
import type { Readiness } from "./Readiness.js"
import type { SignalName } from "./Signal.js"

export interface SpawnRequest {
  readonly argv: readonly [string, ...Array<string>]
  /**
   * The server program as the operator named it (`argv[0]` unless a shell is put in front of
   * it): a shell reports a program it cannot exec as its own exit 127, so a platform that
   * starts one checks the program first, to report the exec failure as exec would.
   */
  readonly program?: string | undefined
  /** The complete environment of the worker. */
  readonly env: Readonly<Record<string, string>>
  readonly cwd: string | undefined
  /** `childFd` in the worker is the supervisor's `fd`. */
  readonly fds: ReadonlyArray<{ readonly childFd: number; readonly fd: number }>
  readonly readiness: Readiness
  /**
   * Start the worker as the leader of its own process group (and session), and deliver
   * every signal to the whole group, so a worker's children stop with it.
   */
  readonly processGroup: boolean
  /** Which worker this is (also in its env as SERVER_STARTER_GENERATION / _WORKER_INDEX). */
  readonly generation: number
  readonly index: number
}

export interface WorkerProcess {
  readonly pid: number
  /** kill(2) without waiting; a no-op once the worker has been reaped. */
  readonly signal: (signal: SignalName) => Effect.Effect<void>
  /** Completes when the worker has exited and been reaped. */
  readonly exit: Effect.Effect<ExitStatus>
  /** Completes when the worker reports ready on its channel or passes its probe; never, for `Interval`. */
  readonly ready: Effect.Effect<void>
  /** Why the worker is not ready yet, if the channel can tell (the last probe error, its sd_notify STATUS). */
  readonly readinessDetail: Effect.Effect<string | undefined>
  /**
   * Once it has exited: whether its output mentioned EADDRINUSE (a listen of its own that met
   * our socket); `undefined` when start_server does not read its output.
   */
  readonly saidAddressInUse?: Effect.Effect<boolean | undefined> | undefined
}

/**
 * Why the program can never run as it is, told by exec's errno: `not-found` (ENOENT, ENOTDIR,
 * ELOOP, ENAMETOOLONG), `not-executable` (EACCES, ENOEXEC, EISDIR). Unlike a lack of memory or
 * file descriptors, retrying cannot help until someone changes the file.
 */
export type Unexecutable = "not-found" | "not-executable"

/**
 * The program could not be started at all (exec or chdir failed). `message` is Perl's log line
 * (`failed to exec nodee:No such file or directory`); `exitCode` is what Perl's forked child
 * would have exited with: 255 after a failed exec, the errno after a failed chdir; `reason` is
 * the failure in words for status and restart replies (`exec failed: nodee: No such file or
 * directory`), `message` when absent.
 */
export class SpawnError extends Data.TaggedError("SpawnError")<{
  readonly message: string
  readonly exitCode: number
  readonly reason?: string | undefined
  readonly unexecutable?: Unexecutable | undefined
}> {}

export class ProcessSpawner extends Context.Tag("@starter/core/ProcessSpawner")<
  ProcessSpawner,
  {
    readonly spawn: (request: SpawnRequest) => Effect.Effect<WorkerProcess, SpawnError>
  }
>() {}
