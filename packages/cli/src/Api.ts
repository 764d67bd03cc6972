/**
 * The public types of `import { start } from "@starter/cli"`: plain TypeScript, no Effect type.
 * This file is shipped as it is, as the package's `bundle/index.d.ts` (scripts/bundle.mjs
 * copies it): it holds declarations only, with no import and no statement that runs.
 * `Embedding.ts` implements it, and checks that these types match core's.
 */

/** Milliseconds, or a duration in words: `"5 seconds"`, `"2 minutes"`. */
export type Duration =
  | number
  | `${number} ${
      | "nano"
      | "nanos"
      | "micro"
      | "micros"
      | "milli"
      | "millis"
      | "second"
      | "seconds"
      | "minute"
      | "minutes"
      | "hour"
      | "hours"
      | "day"
      | "days"
      | "week"
      | "weeks"}`

export type SignalName =
  | "HUP"
  | "INT"
  | "QUIT"
  | "ILL"
  | "TRAP"
  | "ABRT"
  | "BUS"
  | "FPE"
  | "KILL"
  | "USR1"
  | "SEGV"
  | "USR2"
  | "PIPE"
  | "ALRM"
  | "TERM"
  | "STKFLT"
  | "CHLD"
  | "CONT"
  | "STOP"
  | "TSTP"
  | "TTIN"
  | "TTOU"
  | "URG"
  | "XCPU"
  | "XFSZ"
  | "VTALRM"
  | "PROF"
  | "WINCH"
  | "IO"
  | "PWR"
  | "SYS"

/** A signal as an option names it: `TERM`, `SIGTERM`, a Perl alias (`IOT`) or its number (`"15"`). */
export type SignalText =
  | SignalName
  | "IOT"
  | "CLD"
  | "POLL"
  | `${number}`
  | `SIG${SignalName | "IOT" | "CLD" | "POLL" | `${number}`}`

/** `--ready`: how a new worker says it serves (see `start_server --help`). */
export type ReadinessText =
  | "none"
  | "notify-fd"
  | "ipc"
  | "sd-notify"
  | `tcp:${string}`
  | `unix:${string}`
  | `http://${string}`
  | `https://${string}`

/**
 * The supervisor's options: `command`, and any other field to change its default. The same
 * fields as `StarterLive`'s `StarterOptions` in @starter/platform-node, one per `start_server`
 * option (the table in that package's README).
 */
export interface StarterOptions {
  /** The server program and its arguments: `["node", "server.mjs"]`. */
  readonly command: readonly [string, ...string[]]
  /** `--port` values: `8080`, `127.0.0.1:8080`, `[::1]:8080`, `u53`, `8080=5`. */
  readonly ports?: readonly string[] | undefined
  /** `--path` values: unix socket paths. */
  readonly paths?: readonly string[] | undefined
  readonly backlog?: number | undefined
  /** `--path-mode`: `"0660"`. */
  readonly pathMode?: string | undefined
  readonly dir?: string | undefined
  readonly workers?: number | undefined
  readonly maxSurge?: number | undefined
  readonly readiness?: ReadinessText | undefined
  readonly interval?: Duration | undefined
  readonly readyTimeout?: Duration | undefined
  readonly signalOnHup?: SignalText | undefined
  readonly signalOnTerm?: SignalText | undefined
  readonly killOldDelay?: Duration | undefined
  readonly killTimeout?: Duration | undefined
  readonly autoRestartInterval?: Duration | undefined
  readonly maxStartAttempts?: number | undefined
  readonly pidFile?: string | undefined
  readonly statusFile?: string | undefined
  readonly controlSocket?: string | undefined
  readonly jsonStatusFile?: string | undefined
  readonly metricsFile?: string | undefined
  readonly envdir?: string | undefined
  readonly listenFds?: boolean | undefined
  readonly signalProcessGroup?: boolean | undefined
  readonly reloadTunables?: boolean | undefined
}

/** How `start` runs the supervisor in this process, beyond its options. */
export interface EmbedOptions {
  /**
   * The supervisor's log lines (and warnings) on stderr: `"text"` (start_server's lines, the
   * default), `"json"` (one object a line) or `"none"`.
   */
  readonly log?: "text" | "json" | "none" | undefined
  /**
   * `true`: this process's HUP restarts and TERM, INT and QUIT stop, as for the binary.
   * Default `false`: the signals are the application's.
   */
  readonly handleSignals?: boolean | undefined
}

/** How a worker ended. */
export interface ExitStatus {
  readonly code: number | null
  readonly signal: SignalName | null
}

/** Why a start failed. */
export type RolloutFailure =
  | { readonly _tag: "Exited"; readonly status: ExitStatus }
  | { readonly _tag: "ReadyTimeout"; readonly timeoutMs: number; readonly detail: string | undefined }
  | { readonly _tag: "SpawnFailed"; readonly message: string }

export type RestartReason = "hup" | "auto" | "control"

/** What the supervisor does, one record per fact (as `start_server events` prints them). */
export type StarterEvent =
  | { readonly _tag: "WorkerSpawned"; readonly pid: number; readonly generation: number; readonly index: number }
  | { readonly _tag: "WorkerReady"; readonly pid: number; readonly generation: number; readonly latencyMs: number }
  | { readonly _tag: "WorkerSignalled"; readonly pid: number; readonly generation: number; readonly signal: string }
  | { readonly _tag: "WorkerExited"; readonly pid: number; readonly generation: number; readonly status: ExitStatus }
  | {
      readonly _tag: "StartFailed"
      readonly generation: number
      readonly attempt: number
      readonly failure: RolloutFailure
    }
  | { readonly _tag: "RolloutStarted"; readonly epoch: number; readonly reason: RestartReason | "boot" }
  | { readonly _tag: "RolloutCompleted"; readonly epoch: number; readonly generation: number }
  | {
      readonly _tag: "RolloutAbandoned"
      readonly epoch: number
      readonly attempts: number
      readonly failure: RolloutFailure
    }
  | { readonly _tag: "RolloutSuperseded"; readonly epoch: number; readonly by: number }
  | { readonly _tag: "RestartQueued"; readonly reason: RestartReason; readonly epoch: number }
  | { readonly _tag: "ShutdownStarted"; readonly signal: "TERM" | "INT" | "handover" }

/**
 * How a restart ended: the new generation serves (`Ready`), it failed and the old one keeps
 * serving (`Failed`, with the reason), a newer restart took it over, or the supervisor stops.
 */
export type RestartOutcome =
  | { readonly _tag: "Ready"; readonly epoch: number; readonly generation: number }
  | { readonly _tag: "Failed"; readonly epoch: number; readonly reason: string }
  | { readonly _tag: "Superseded"; readonly epoch: number; readonly by: number }
  | { readonly _tag: "ShuttingDown" }

export type WorkerPhase = "starting" | "serving" | "draining"

/** The supervisor's state, as `start_server status --json` shows it (docs/control-socket.md). */
export interface StatusSnapshot {
  readonly version: 1
  readonly generation: number
  readonly servingGeneration: number | null
  readonly epoch: number
  readonly state: "starting" | "serving" | "restarting" | "backing-off" | "crash-loop" | "stopping"
  readonly workers: ReadonlyArray<{
    readonly pid: number
    readonly generation: number
    readonly index: number
    readonly state: WorkerPhase
    readonly startedAt: string
    readonly readyAt: string | null
    readonly restarts: number
  }>
  readonly targetWorkers: number
  readonly lastRestart: {
    readonly epoch: number
    readonly reason: RestartReason | "boot"
    readonly outcome: "in-progress" | "ready" | "failed" | "superseded" | "interrupted"
    readonly startedAt: string
    readonly endedAt: string | null
    readonly completedAt: string | null
    readonly failedStarts: number
    readonly lastFailure: string | null
    readonly generation: number | null
    readonly supersededBy: number | null
  }
  readonly recentExits: ReadonlyArray<{
    readonly pid: number
    readonly generation: number
    readonly code: number | null
    readonly signal: string | null
    readonly description: string
    readonly at: string
  }>
  readonly crashLoop: boolean
  readonly supervisor?: { readonly pid: number; readonly version?: string }
}

/** The running supervisor. */
export interface Starter {
  /** A rolling restart; resolves once it has ended, to its outcome (the old generation serves until then). */
  restart(): Promise<RestartOutcome>
  status(): Promise<StatusSnapshot>
  /**
   * Stops the workers (each gets `signalOnTerm`, then KILL after `killTimeout`), closes the
   * sockets and removes the files; resolves once all of that is done. Calling it again is harmless.
   */
  stop(): Promise<void>
  /**
   * Lifecycle events, from the moment iteration starts; the iteration ends after the
   * supervisor's last event (once `stop()` has stopped it). Each `for await` gets every event.
   */
  readonly events: AsyncIterable<StarterEvent>
  /** Resolves once the supervisor has stopped, however that came about (`stop()`, or TERM with `handleSignals`). */
  readonly stopped: Promise<void>
}

/**
 * Why `start` (or a call on a stopped supervisor) was refused, in one line: the reason
 * `StarterLive` fails with, which for a socket or the pid file is the line `start_server`
 * prints (`failed to bind to 127.0.0.1:8080:Address already in use`), for options the field
 * and what is wrong with it (`workers: Expected a number between 1 and 1024, actual 0`).
 */
export declare class StarterError extends Error {
  /** `"InvalidOptions"`, `"ListenError"`, `"PidFileError"`, `"ControlServerError"`, `"Stopped"`, … */
  readonly reason: string
  /** The options' field, for `InvalidOptions` about one field. */
  readonly field: string | undefined
  /** The system's error number, for a socket or file that could not be opened (98: EADDRINUSE). */
  readonly errno: number | undefined
}

/**
 * Binds the sockets, takes the pid file and starts the first generation; resolves once the
 * supervisor runs (not once the workers are ready: watch `events` or `status()` for that).
 * Bad options or a socket that cannot be bound reject it with a `StarterError`, before
 * anything is left behind.
 */
export declare function start(options: StarterOptions, embed?: EmbedOptions): Promise<Starter>
