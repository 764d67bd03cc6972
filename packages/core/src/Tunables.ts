/**
 * The supervisor's environment-backed tunables, read as Perl reads them (Starter.pm L348,
 * L376-L397): ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL and KILL_OLD_DELAY. Perl copies the
 * matching options into the environment, then re-reads these on every loop iteration, after
 * the envdir overlay: so an envdir file changes them at runtime.
 */

export interface Tunables {
  /** `--kill-old-delay`: from "new worker is now running" to signalling the old ones. */
  readonly killOldDelayMs: number
  /** `--enable-auto-restart`: restart every `intervalMs` (forced at twice that). */
  readonly autoRestart: { readonly intervalMs: number } | undefined
}

/** Perl truthiness: unset, "" and "0" are false. */
export const perlTrue = (value: string | undefined): boolean => value !== undefined && value !== "" && value !== "0"

/** Perl numifies a string by its leading number: `5s` is 5, `abc` is 0. */
const perlNumber = (value: string): number => {
  const n = Number.parseFloat(value)
  return Number.isNaN(n) ? 0 : n
}

export const fromEnvironment = (env: Readonly<Record<string, string | undefined>>): Tunables => {
  const enabled = perlTrue(env.ENABLE_AUTO_RESTART)
  const interval = env.AUTO_RESTART_INTERVAL
  const delay = env.KILL_OLD_DELAY
  return {
    // `defined $ENV{KILL_OLD_DELAY} ? … : (auto ? 5 : 0)`: an empty value is defined, and 0.
    killOldDelayMs: Math.max(0, delay === undefined ? (enabled ? 5 : 0) : perlNumber(delay)) * 1000,
    // `AUTO_RESTART_INTERVAL ||= 360`: 0 and "" mean the default too.
    autoRestart: enabled ? { intervalMs: (perlNumber(interval ?? "") || 360) * 1000 } : undefined
  }
}

export const equals = (a: Tunables, b: Tunables): boolean =>
  a.killOldDelayMs === b.killOldDelayMs && a.autoRestart?.intervalMs === b.autoRestart?.intervalMs
