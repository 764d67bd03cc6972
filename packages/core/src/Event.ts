/**
 * Everything that can happen to the supervisor. Operators send the first three
 * (signals, `--restart`, the control socket); the world and the timers send the rest.
 */
import * as Data from "effect/Data"
import type { ExitStatus } from "./ExitStatus.js"
import type { Unexecutable } from "./ProcessSpawner.js"
import type { Tunables } from "./Tunables.js"

export type RestartReason = "hup" | "auto" | "control"

export type ShutdownOrigin = "signal" | "scope" | "control"

export type Event = Data.TaggedEnum<{
  Boot: {}
  RestartRequested: { readonly reason: RestartReason }
  /**
   * `signal` is what start_server received, or stands for it when `origin` says nobody sent
   * one: the scope the supervisor runs in (an embedding application's) is closing, or a
   * control-socket client asked it to stop.
   */
  ShutdownRequested: { readonly signal: "TERM" | "INT"; readonly origin?: ShutdownOrigin | undefined }
  Spawned: { readonly id: number; readonly pid: number }
  SpawnFailed: {
    readonly id: number
    readonly message: string
    readonly exitCode: number
    /** For people: `exec failed: nodee: No such file or directory`. */
    readonly reason: string
    readonly unexecutable?: Unexecutable | undefined
  }
  /** `saidAddressInUse`: its output mentioned EADDRINUSE (`undefined`: not read). */
  Exited: { readonly id: number; readonly status: ExitStatus; readonly saidAddressInUse?: boolean | undefined }
  Ready: { readonly id: number }
  /**
   * `--interval` elapsed (Perl's alive check) or the readiness timeout expired; `detail` is
   * what the readiness channel knows about why the worker is not ready.
   */
  ReadyDeadline: { readonly id: number; readonly detail?: string | undefined }
  /** A backoff delay is over: spawning may resume. */
  RetryDue: {}
  /** `--kill-old-delay` is over for these retiring workers. */
  RetireDue: { readonly ids: ReadonlyArray<number> }
  /** `--kill-timeout` is over for a signalled worker. */
  KillDue: { readonly id: number }
  /** The auto-restart clock's check; `timer` tells a current check from a cancelled one. */
  AutoRestartDue: { readonly timer: number }
  /**
   * SIGALRM, or the alarm Perl's loop sets every second while auto-restart is on: the loop
   * wakes up (and re-reads the envdir), nothing else happens.
   */
  Alarm: {}
  /** ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL or KILL_OLD_DELAY changed (an envdir file). */
  TunablesChanged: { readonly tunables: Tunables }
  /** Change the number of workers per generation (control socket `scale`). */
  Scale: { readonly workers: number }
  /**
   * A new supervisor has taken over (`start_server upgrade`): retire every worker as a
   * restart retires the old ones, start none, and exit once they are gone.
   */
  HandOver: {}
}>

export const Event = Data.taggedEnum<Event>()
