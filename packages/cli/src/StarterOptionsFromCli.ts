/**
 * The command line as StarterOptions, with Perl's defaults and Perl's reading of the
 * environment-backed tunables (ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL, KILL_OLD_DELAY).
 */
import { type InvalidOptions, Signal, type StarterOptions, Tunables } from "@starter/core"
import type { CliOptions } from "./CliOptions.js"

/** The environment as the tunables see it: options copied in, startup envdir applied. */
export type Environment = Readonly<Record<string, string | undefined>>

/** Perl copies these options into the environment, so workers see them too. */
export const environmentFromOptions = (options: CliOptions): Record<string, string> => ({
  ...(options.envdir !== undefined ? { ENVDIR: options.envdir } : {}),
  ...(options.enableAutoRestart ? { ENABLE_AUTO_RESTART: "1" } : {}),
  ...(options.killOldDelay !== undefined ? { KILL_OLD_DELAY: String(options.killOldDelay) } : {}),
  ...(options.autoRestartInterval !== undefined ? { AUTO_RESTART_INTERVAL: String(options.autoRestartInterval) } : {})
})

/** `readyTimeout` → `ready-timeout`: the option a user typed. */
const optionName = (field: string) => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** Their messages are the parsers' own, which name the value (Perl's `Unrecognized signal name "FOO"`). */
const selfExplained: ReadonlySet<string> = new Set(["readiness", "signalOnHup", "signalOnTerm"])

/** A problem with the options in the words of the command line: `--workers: Expected …`. */
export const commandLineMessage = (error: InvalidOptions): string => {
  const { field } = error
  if (field === undefined) return error.message
  const message = error.message.slice(field.length + 2)
  return selfExplained.has(field) ? message : `--${optionName(field)}: ${message}`
}

/** Perl: `||= 'TERM'` ("" and "0" are false), then upper-cased without `SIG`, as its log lines print it. */
const signalText = (raw: string | undefined): Signal.SignalText =>
  (raw === undefined || raw === "" || raw === "0" ? "TERM" : Signal.normalizeSignalOption(raw)) as Signal.SignalText

/**
 * The command line as the options an application would write, with Perl's readings (the
 * tunables from the environment, a negative interval as none, a zero backlog as the default).
 * `toStarterConfig` checks them, as it checks anyone's.
 */
export const toStarterOptions = (
  options: CliOptions,
  command: readonly [string, ...Array<string>],
  environment: Environment
): StarterOptions => {
  const { autoRestart, killOldDelayMs } = Tunables.fromEnvironment(environment)
  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
  return {
    command,
    ports: options.ports,
    paths: options.paths,
    // Perl: `||= SOMAXCONN`, so 0 means the default too.
    ...optional("backlog", options.backlog || undefined),
    ...optional("dir", options.dir),
    ...optional("pathMode", options.pathMode),
    ...optional("workers", options.workers),
    ...optional("maxSurge", options.maxSurge),
    ...optional("readiness", options.ready as StarterOptions["readiness"]),
    // Perl's sleep() treats a negative interval as no wait.
    ...optional("interval", options.interval === undefined ? undefined : Math.max(0, options.interval) * 1000),
    ...optional("readyTimeout", options.readyTimeoutMs),
    signalOnHup: signalText(options.signalOnHup),
    signalOnTerm: signalText(options.signalOnTerm),
    killOldDelay: killOldDelayMs,
    ...optional("killTimeout", options.killTimeoutMs),
    ...optional("autoRestartInterval", autoRestart?.intervalMs),
    ...optional("maxStartAttempts", options.maxStartAttempts),
    ...optional("pidFile", options.pidFile),
    ...optional("statusFile", options.statusFile),
    ...optional("controlSocket", options.controlSocket),
    ...optional("jsonStatusFile", options.jsonStatusFile),
    ...optional("metricsFile", options.metricsFile),
    ...optional("envdir", environment.ENVDIR),
    listenFds: options.listenFds,
    signalProcessGroup: options.signalProcessGroup,
    // Without an envdir nothing can change them while we run.
    reloadTunables: environment.ENVDIR !== undefined
  }
}
