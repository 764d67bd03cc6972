/**
 * The command line as StarterOptions, with Perl's defaults and Perl's reading of the
 * environment-backed tunables (ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL, KILL_OLD_DELAY).
 */
import { Signal, StarterOptionsSchema, Tunables } from "@starter/core"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
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

const decode = Schema.decodeUnknownEither(StarterOptionsSchema)

/** `readyTimeoutMs` → `ready-timeout`: the option a user typed. */
const optionName = (field: string) => field.replace(/Ms$/, "").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** Their messages are the parsers' own, which name the value (Perl's `Unrecognized signal name "FOO"`). */
const selfExplained: ReadonlySet<string> = new Set(["readiness", "signalOnHup", "signalOnTerm"])

/** Perl: `||= 'TERM'` ("" and "0" are false), then upper-cased without `SIG`, as its log lines print it. */
const signalText = (raw: string | undefined): string =>
  raw === undefined || raw === "" || raw === "0" ? "TERM" : Signal.normalizeSignalOption(raw)

/** Left: one line naming the option that is out of range (`workers: Expected …`). */
export const toStarterOptions = (
  options: CliOptions,
  command: readonly [string, ...Array<string>],
  environment: Environment
): Either.Either<typeof StarterOptionsSchema.Type, string> => {
  const { autoRestart, killOldDelayMs } = Tunables.fromEnvironment(environment)
  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
  const decoded = decode({
    command,
    ports: options.ports,
    paths: options.paths,
    // Perl: `||= SOMAXCONN`, so 0 means the default too.
    ...optional("backlog", options.backlog || undefined),
    ...optional("dir", options.dir),
    ...optional("pathMode", options.pathMode),
    workers: options.workers ?? 1,
    maxSurge: options.maxSurge ?? 1,
    readiness: options.ready ?? "none",
    // Perl's sleep() treats a negative interval as no wait.
    intervalMs: Math.max(0, options.interval ?? 1) * 1000,
    ...optional("readyTimeoutMs", options.readyTimeoutMs),
    signalOnHup: signalText(options.signalOnHup),
    signalOnTerm: signalText(options.signalOnTerm),
    killOldDelayMs,
    ...optional("killTimeoutMs", options.killTimeoutMs),
    ...optional("autoRestartIntervalMs", autoRestart?.intervalMs),
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
  })
  return Either.mapLeft(decoded, (error) => {
    // The first issue is the option's own; later ones restate it for `optional`'s undefined.
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
    const field = String(issue?.path[0] ?? "option")
    const message = issue?.message ?? "invalid"
    return selfExplained.has(field) ? message : `--${optionName(field)}: ${message}`
  })
}
