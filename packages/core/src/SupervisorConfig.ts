/**
 * Everything the generation state machine needs to know, already validated.
 * Durations are milliseconds: the machine is pure arithmetic over the clock.
 */
import { Readiness } from "./Readiness.js"
import type { SignalName } from "./Signal.js"

export interface SignalOption {
  readonly signal: SignalName
  /** As Perl logs it: the option upper-cased without `SIG` (`--signal-on-hup=10` logs `10`). */
  readonly label: string
}

export interface SupervisorConfig {
  readonly argv: readonly [string, ...Array<string>]
  readonly cwd: string | undefined
  /** Processes per generation (`--workers`, default 1 = Perl). */
  readonly workers: number
  /** New workers started at once during a rolling restart (`--max-surge`). */
  readonly maxSurge: number
  /** `Interval` = Perl: a worker is up when it is still alive `intervalMs` after spawn. */
  readonly readiness: Readiness
  readonly intervalMs: number
  /** With a readiness channel: how long a new worker may take to report ready. */
  readonly readyTimeoutMs: number
  readonly signalOnHup: SignalOption
  readonly signalOnTerm: SignalOption
  /** Wait between "new worker is now running" and signalling the old ones (`--kill-old-delay`). */
  readonly killOldDelayMs: number
  /** SIGKILL a signalled worker still alive after this long; `undefined` = wait forever (Perl). */
  readonly killTimeoutMs: number | undefined
  /** `--enable-auto-restart`: restart every `intervalMs` (forced at twice that). */
  readonly autoRestart: { readonly intervalMs: number } | undefined
  /** Exponential backoff (with jitter) for crash loops and failed starts with a readiness channel. */
  readonly backoff: { readonly initialMs: number; readonly maxMs: number }
  /**
   * A crash loop is more than `crashLoopCrashes` crashes of serving workers within
   * `crashWindowMs`; only then are respawns held back. Fewer are replaced at once, as in Perl:
   * a worker killed now and then must never cost the service its replacement.
   */
  readonly crashWindowMs: number
  readonly crashLoopCrashes: number
  /** Consecutive failed starts before a rollout gives up; `undefined` = retry forever (Perl). */
  readonly maxStartAttempts: number | undefined
  /** Also describe the sockets with systemd's LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID. */
  readonly listenFds: boolean
  /** Signal each worker's whole process group (`--signal-process-group`). */
  readonly signalProcessGroup: boolean
  /**
   * Re-read `killOldDelayMs` and `autoRestart` from the worker environment (envdir included)
   * before every event, as Perl re-reads its tunables on every loop iteration.
   */
  readonly reloadTunables: boolean
  /**
   * The last generation number handed out before this supervisor started: a supervisor that
   * takes over from another (`start_server upgrade`) continues its numbering. Default 0.
   */
  readonly generationBase?: number | undefined
}

/** The one table of defaults: the options' and the command line's (Perl's, where Perl has one). */
export const defaults = {
  workers: 1,
  maxSurge: 1,
  readiness: Readiness.Interval(),
  intervalMs: 1000,
  readyTimeoutMs: 60_000,
  killOldDelayMs: 0,
  killTimeoutMs: undefined,
  autoRestart: undefined,
  backoff: { initialMs: 1000, maxMs: 30_000 },
  crashWindowMs: 10_000,
  crashLoopCrashes: 15,
  maxStartAttempts: undefined,
  listenFds: false,
  signalProcessGroup: false,
  reloadTunables: false,
  /** The same defaults as the options write them. */
  readinessText: "none",
  signal: "TERM"
} as const satisfies Partial<SupervisorConfig> & { readonly readinessText: string; readonly signal: string }

export const make = (
  options: Pick<SupervisorConfig, "argv"> &
    Partial<Omit<SupervisorConfig, "signalOnHup" | "signalOnTerm">> & {
      readonly signalOnHup?: SignalOption
      readonly signalOnTerm?: SignalOption
    }
): SupervisorConfig => {
  const { readinessText: _text, signal: _signal, ...fields } = defaults
  return {
    ...fields,
    cwd: undefined,
    signalOnHup: { signal: defaults.signal, label: defaults.signal },
    signalOnTerm: { signal: defaults.signal, label: defaults.signal },
    ...options
  }
}
