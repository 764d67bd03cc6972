/**
 * Turns parsed command-line options into the supervisor's configuration, with Perl's
 * defaults and Perl's messages and exit codes for values that do not make sense.
 */
import { ListenSpec, Signal, type Starter, SupervisorConfig } from "@starter/core"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import type { CliOptions } from "./CliOptions.js"

/** A fatal startup error: one line on stderr and the exit code Perl would give. */
export class StartupError extends Data.TaggedError("StartupError")<{
  readonly message: string
  readonly exitCode: number
}> {}

const signalOption = (raw: string | undefined): Either.Either<SupervisorConfig.SignalOption, StartupError> => {
  // Perl: `||= 'TERM'`, so an empty value means TERM too.
  const value = raw === undefined || raw === "" ? "TERM" : raw
  return Either.map(
    Either.mapLeft(Signal.parseSignal(value), (message) => new StartupError({ message, exitCode: 255 })),
    (signal) => ({ signal, label: Signal.normalizeSignalOption(value) })
  )
}

/** Perl truthiness for the env-backed switches: unset, "" and "0" are false. */
const perlTrue = (value: string | undefined): boolean => value !== undefined && value !== "" && value !== "0"

const seconds = (value: string | undefined): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const n = Number(value)
  return Number.isFinite(n) ? n : undefined
}

/**
 * The tunables Perl reads from the environment (ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL,
 * KILL_OLD_DELAY), after the options have been copied into it and the envdir applied.
 */
export interface Tunables {
  readonly ENABLE_AUTO_RESTART?: string | undefined
  readonly AUTO_RESTART_INTERVAL?: string | undefined
  readonly KILL_OLD_DELAY?: string | undefined
}

/** Perl copies these options into the environment, so workers see them too. */
export const environmentFromOptions = (options: CliOptions): Record<string, string> => ({
  ...(options.envdir !== undefined ? { ENVDIR: options.envdir } : {}),
  ...(options.enableAutoRestart ? { ENABLE_AUTO_RESTART: "1" } : {}),
  ...(options.killOldDelay !== undefined ? { KILL_OLD_DELAY: String(options.killOldDelay) } : {}),
  ...(options.autoRestartInterval !== undefined ? { AUTO_RESTART_INTERVAL: String(options.autoRestartInterval) } : {})
})

export const toStarterConfig = (
  options: CliOptions,
  tunables: Tunables,
  pid: number
): Either.Either<Starter.StarterConfig, StartupError> =>
  Either.gen(function* () {
    const [program, ...args] = options.program
    if (program === undefined)
      return yield* Either.left(new StartupError({ message: "server program not specified", exitCode: 255 }))
    const listen = yield* Either.mapLeft(
      ListenSpec.parseListenSpecs(options.ports, options.paths),
      (e) => new StartupError({ message: e.message, exitCode: 255 })
    )
    const signalOnHup = yield* signalOption(options.signalOnHup)
    const signalOnTerm = yield* signalOption(options.signalOnTerm)
    const autoRestart = perlTrue(tunables.ENABLE_AUTO_RESTART)
    // Perl: `||= 360`, so 0 and "" mean the default too.
    const autoRestartInterval = seconds(tunables.AUTO_RESTART_INTERVAL) || 360
    const killOldDelay = seconds(tunables.KILL_OLD_DELAY) ?? (autoRestart ? 5 : 0)
    const workers = options.workers ?? 1
    if (workers < 1)
      return yield* Either.left(new StartupError({ message: "--workers must be at least 1", exitCode: 255 }))
    return {
      listen,
      controlSocket: options.controlSocket,
      // Perl: `||= SOMAXCONN`, so 0 means the default too.
      backlog: options.backlog || undefined,
      pidFile: options.pidFile,
      pid,
      supervisor: SupervisorConfig.make({
        argv: [program, ...args],
        cwd: options.dir,
        workers,
        maxSurge: Math.max(1, options.maxSurge ?? 1),
        readiness: options.ready ?? "none",
        intervalMs: (options.interval ?? 1) * 1000,
        ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
        signalOnHup,
        signalOnTerm,
        killOldDelayMs: killOldDelay * 1000,
        killTimeoutMs: options.killTimeoutMs,
        autoRestart: autoRestart ? { intervalMs: autoRestartInterval * 1000 } : undefined,
        maxStartAttempts: options.maxStartAttempts
      })
    }
  })
