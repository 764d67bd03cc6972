/**
 * Signal names as start_server speaks them: Perl's `kill` accepts `TERM`, `SIGTERM`,
 * `sigterm` and `15` alike, and the log lines print the option as normalised.
 */
import * as Either from "effect/Either"

/** Linux x86_64 / aarch64 signal numbers; a Perl `kill` name maps to one of these. */
export const signalNumbers = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  PWR: 30,
  SYS: 31
} as const

export type SignalName = keyof typeof signalNumbers

const byNumber = new Map<number, SignalName>(
  Object.entries(signalNumbers).map(([name, n]) => [n, name as SignalName] as const)
)

export const isSignalName = (s: string): s is SignalName => Object.hasOwn(signalNumbers, s)

export const signalNumber = (name: SignalName): number => signalNumbers[name]

export const signalFromNumber = (n: number): SignalName | undefined => byNumber.get(n)

/**
 * Perl's normalisation (Starter.pm L31-35): upper-case, strip one leading `SIG`.
 * The result is what log lines print (`--signal-on-hup=10` logs `sending 10`).
 */
export const normalizeSignalOption = (raw: string): string => raw.toUpperCase().replace(/^SIG/, "")

/** Perl's other names for signals of the table (`perl -MConfig -e 'print $Config{sig_name}'`). */
const aliases = { IOT: "ABRT", CLD: "CHLD", POLL: "IO" } as const satisfies Readonly<Record<string, SignalName>>

type SignalAlias = keyof typeof aliases

/**
 * A signal as an option names it: `TERM`, `SIGTERM`, a Perl alias (`IOT`) or its number
 * (`15`). A misspelt name does not compile; a number is checked when the options are.
 */
export type SignalText = BareSignalText | `SIG${BareSignalText}`

type BareSignalText = SignalName | SignalAlias | `${number}`

/** Names Perl knows that we refuse, with the reason. */
const refusal = (name: string): string | undefined => {
  const n = /^\d+$/.test(name) ? Number(name) : undefined
  if (name === "ZERO" || n === 0) return `signal ${name} (0) would never stop a worker`
  if (/^(RTMIN|RTMAX|NUM\d+)$/.test(name) || (n !== undefined && n >= 32 && n <= 64)) {
    return `real-time signal ${name} is not supported: Node can neither send it to a worker nor report a worker's death by it`
  }
  return undefined
}

/**
 * Resolves an option value to a deliverable signal. Perl defers this to the first `kill`
 * and dies there (quirk 7); we validate at startup instead.
 */
export const parseSignal = (raw: string): Either.Either<SignalName, string> => {
  const name = normalizeSignalOption(raw)
  if (isSignalName(name)) return Either.right(name)
  if (Object.hasOwn(aliases, name)) return Either.right(aliases[name as SignalAlias])
  const refused = refusal(name)
  if (refused !== undefined) return Either.left(refused)
  if (/^\d+$/.test(name)) {
    const byNum = signalFromNumber(Number(name))
    if (byNum !== undefined) return Either.right(byNum)
  }
  return Either.left(`Unrecognized signal name "${raw}"`)
}

/** `parseSignal` for a `SignalText`: the same names, in upper case. */
export const parseSignalText = (text: string): Either.Either<SignalName, string> =>
  text === text.toUpperCase()
    ? parseSignal(text)
    : Either.left(`signal ${text}: expected upper case, such as TERM, SIGTERM or 15`)
