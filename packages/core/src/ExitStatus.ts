/**
 * How a worker ended. Perl logs the raw wait(2) status (`exit 3` → 768, SIGKILL → 9),
 * so that is what `waitStatus` reproduces for the log lines.
 */
import { type SignalName, signalNumber } from "./Signal.js"

export interface ExitStatus {
  readonly code: number | null
  readonly signal: SignalName | null
}

export const exited = (code: number): ExitStatus => ({ code, signal: null })

export const killedBy = (signal: SignalName): ExitStatus => ({ code: null, signal })

/** The raw wait status: `code << 8` for an exit, the signal number for a signal death. */
export const waitStatus = (status: ExitStatus): number =>
  status.signal !== null ? signalNumber(status.signal) : ((status.code ?? 0) & 0xff) << 8

/** For people: `exit code 3`, `killed by SIGKILL` (never the raw wait status). */
export const describe = (status: ExitStatus): string =>
  status.signal !== null ? `killed by SIG${status.signal}` : `exit code ${status.code ?? 0}`
