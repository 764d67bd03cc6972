/**
 * What to listen on, parsed from `--port` and `--path` exactly as Perl's Starter.pm (L95-137)
 * does, including the `SERVER_STARTER_PORT` key each entry is published under.
 */
import * as Either from "effect/Either"

export interface InetSpec {
  readonly _tag: "Inet"
  readonly protocol: "tcp" | "udp"
  /** The host as typed; `undefined` for a bare port, which binds 0.0.0.0 only (Perl compat). */
  readonly host: string | undefined
  readonly family: 4 | 6
  readonly port: number
  /** `=N`: the fd the worker receives this socket at. */
  readonly fd: number | undefined
  /** `=N` as typed (`05`): Perl publishes and logs it so. */
  readonly fdText: string | undefined
  /**
   * The SERVER_STARTER_PORT key: `8080`, `host:8080`, `[::1]:8080`, host and port as typed
   * (`019041` stays so); UDP drops the `u`.
   */
  readonly key: string
}

export interface UnixSpec {
  readonly _tag: "Unix"
  readonly path: string
  readonly fd: undefined
  readonly fdText: undefined
  readonly key: string
}

export type ListenSpec = InetSpec | UnixSpec

/**
 * Perl: croak "invalid ``port'' value:$hostport" (exit 255). This module's errors are plain
 * tagged Errors, not Data.TaggedError: the binary parses its `--port`s before Effect's runtime
 * loads (EarlyListen), and Data.TaggedError would load it (about 10 ms before the first bind).
 */
export class InvalidPortSpec extends Error {
  readonly _tag = "InvalidPortSpec"
  readonly value: string
  constructor({ value }: { readonly value: string }) {
    super(`invalid \`\`port'' value:${value}`)
    this.value = value
  }
}

const BARE = /^\s*(u?)(\d+)(?:\s*=(\d+))?\s*$/
// The host group is greedy and backtracks to the last `:digits`, so `::1:8080` works unbracketed.
const HOST_PORT = /^\s*(?:\[\s*|)([^\]]*)\s*(?:\]\s*|):\s*(u?)(\d+)(?:\s*=(\d+))?\s*$/

const optionalInt = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s))

/** Perl silently truncates ports above 65535 (pack 'n'); a descriptor must fit the fd table. */
const inRange = (spec: InetSpec): boolean => spec.port <= 65535 && (spec.fd === undefined || spec.fd < 1024)

export const parsePort = (value: string): Either.Either<InetSpec, InvalidPortSpec> =>
  Either.filterOrLeft(parseGrammar(value), inRange, () => new InvalidPortSpec({ value }))

const parseGrammar = (value: string): Either.Either<InetSpec, InvalidPortSpec> => {
  const bare = BARE.exec(value)
  if (bare !== null) {
    const port = Number(bare[2])
    return Either.right({
      _tag: "Inet",
      protocol: bare[1] === "u" ? "udp" : "tcp",
      host: undefined,
      family: 4,
      port,
      fd: optionalInt(bare[3]),
      fdText: bare[3],
      key: bare[2]!
    })
  }
  const hp = HOST_PORT.exec(value)
  if (hp !== null) {
    const host = hp[1]!
    const port = Number(hp[3])
    const family = host.includes(":") ? 6 : 4
    return Either.right({
      _tag: "Inet",
      protocol: hp[2] === "u" ? "udp" : "tcp",
      host,
      family,
      port,
      fd: optionalInt(hp[4]),
      fdText: hp[4],
      key: family === 6 ? `[${host}]:${hp[3]}` : `${host}:${hp[3]}`
    })
  }
  return Either.left(new InvalidPortSpec({ value }))
}

export const unixSpec = (path: string): UnixSpec => ({
  _tag: "Unix",
  path,
  fd: undefined,
  fdText: undefined,
  key: path
})

/**
 * Two `--port=…=N` for the same N. Perl's dup2 closes the first socket, whose port then
 * refuses connections; we refuse the command line instead (exit 255).
 */
export class DuplicateFd extends Error {
  readonly _tag = "DuplicateFd"
  readonly fd: number
  readonly first: string
  readonly second: string
  constructor({ fd, first, second }: { readonly fd: number; readonly first: string; readonly second: string }) {
    super(`--port=${first} and --port=${second} both ask for file descriptor ${fd}`)
    this.fd = fd
    this.first = first
    this.second = second
  }
}

/** Perl binds every `--port` in command-line order, then every `--path`. */
export const parseListenSpecs = (
  ports: ReadonlyArray<string>,
  paths: ReadonlyArray<string>
): Either.Either<ReadonlyArray<ListenSpec>, InvalidPortSpec | DuplicateFd> =>
  Either.flatMap(Either.all(ports.map(parsePort)), (inet) => {
    const seen = new Map<number, number>()
    for (const [i, spec] of inet.entries()) {
      if (spec.fd === undefined) continue
      const earlier = seen.get(spec.fd)
      if (earlier !== undefined) {
        return Either.left(new DuplicateFd({ fd: spec.fd, first: ports[earlier]!.trim(), second: ports[i]!.trim() }))
      }
      seen.set(spec.fd, i)
    }
    return Either.right([...inet, ...paths.map(unixSpec)])
  })
