/**
 * The supervisor's configuration: what an Effect application passes to `StarterLive`, and
 * what the `start_server` command line is translated into. Durations are milliseconds;
 * listen specs use the `--port` / `--path` grammar. An application writes a plain object:
 * `toStarterConfig` checks it, so that every invalid value is one `InvalidOptions`.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as ListenSpec from "./ListenSpec.js"
import * as Readiness from "./Readiness.js"
import * as Signal from "./Signal.js"
import type { StarterConfig } from "./Starter.js"
import * as SupervisorConfig from "./SupervisorConfig.js"

const Millis = Schema.Number.pipe(Schema.nonNegative())
const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(schema)

/**
 * A string that `parse` accepts, its failure the message. Both sides are typed `A`, what
 * `parse` admits, so that the compiler checks an application's literal as well.
 */
const parsedText = <A extends string>(parse: (text: string) => Either.Either<unknown, string>) =>
  Schema.typeSchema(
    Schema.String.pipe(
      Schema.filter((text): text is A => Either.isRight(parse(text)), {
        message: (issue) => Either.getLeft(parse(String(issue.actual))).pipe(Option.getOrElse(() => "invalid"))
      })
    )
  )

const ReadinessText = parsedText<Readiness.ReadinessText>(Readiness.parse)
const SignalText = parsedText<Signal.SignalText>(Signal.parseSignalText)

/** The options as a Schema: decoding checks each field and fills in the defaults. */
export const StarterOptionsSchema = Schema.Struct({
  /** The server program and its arguments. */
  command: Schema.NonEmptyArray(Schema.String).annotations({
    message: () => ({
      message: 'the program and its arguments expected, such as ["node", "server.mjs"]',
      override: true
    })
  }),
  /** `--port` values: `8080`, `127.0.0.1:8080`, `[::1]:8080`, `u53`, `8080=5`. */
  ports: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** `--path` values: unix socket paths. */
  paths: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** listen(2) backlog; default SOMAXCONN. A negative one is the kernel's maximum, as in Perl. */
  backlog: optional(Schema.Int),
  /** `--path-mode`: the octal permission bits of `--path` socket files (`0660`); default Perl's `0777`. */
  pathMode: optional(
    Schema.String.pipe(Schema.pattern(/^0?[0-7]{3}$/, { message: () => "an octal file mode such as 0660 expected" }))
  ),
  dir: optional(Schema.String),
  workers: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1024)), { default: () => 1 }),
  maxSurge: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1 }),
  /**
   * `--ready`: `none` (Perl: alive after the interval), `notify-fd`, `ipc`, `sd-notify`, or a
   * probe: `tcp:HOST:PORT`, `unix:PATH`, `http://…` (`{pid}`, `{index}`, `{generation}` expand).
   */
  readiness: Schema.optionalWith(ReadinessText, { default: () => "none" }),
  intervalMs: Schema.optionalWith(Millis, { default: () => 1000 }),
  readyTimeoutMs: Schema.optionalWith(Millis.pipe(Schema.positive()), {
    default: () => SupervisorConfig.defaults.readyTimeoutMs
  }),
  signalOnHup: Schema.optionalWith(SignalText, { default: () => "TERM" }),
  signalOnTerm: Schema.optionalWith(SignalText, { default: () => "TERM" }),
  killOldDelayMs: Schema.optionalWith(Millis, { default: () => 0 }),
  killTimeoutMs: optional(Millis),
  autoRestartIntervalMs: optional(Millis),
  maxStartAttempts: optional(Schema.Int.pipe(Schema.positive())),
  pidFile: optional(Schema.String),
  statusFile: optional(Schema.String),
  controlSocket: optional(Schema.String),
  /** The status snapshot as JSON, rewritten on every change (docs/control-socket.md). */
  jsonStatusFile: optional(Schema.String),
  /** OpenMetrics text, rewritten on every change. */
  metricsFile: optional(Schema.String),
  envdir: optional(Schema.String),
  /** Also pass systemd's LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID (sockets at fds 3.. in order). */
  listenFds: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** Signal each worker's whole process group, so its children stop with it. */
  signalProcessGroup: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /**
   * Re-read ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL and KILL_OLD_DELAY from the environment
   * and the envdir whenever something happens, as Perl does (they override the values above).
   */
  reloadTunables: Schema.optionalWith(Schema.Boolean, { default: () => false })
})

/** What an application writes: `command`, and any other field to change its default. */
export interface StarterOptions extends Schema.Schema.Encoded<typeof StarterOptionsSchema> {}

/** Options that make no sense: a field out of range, a bad `--port`, an unknown signal. */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
  message: Schema.String
}) {}

const signalOption = (text: string): Either.Either<SupervisorConfig.SignalOption, InvalidOptions> =>
  Either.map(
    Either.mapLeft(Signal.parseSignal(text), (message) => new InvalidOptions({ message })),
    (signal) => ({ signal, label: Signal.normalizeSignalOption(text) })
  )

const decode = Schema.decodeUnknownEither(StarterOptionsSchema)

/** The first issue is the field's own; later ones restate it for `optional`'s undefined. */
const invalidField = (error: ParseResult.ParseError): InvalidOptions => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  const field = issue?.path.join(".") ?? ""
  return new InvalidOptions({ message: `${field === "" ? "" : `${field}: `}${issue?.message ?? "invalid options"}` })
}

/** Checks the options, fills in the defaults and resolves them; any problem is one `InvalidOptions`. */
export const toStarterConfig = (input: StarterOptions, pid: number): Either.Either<StarterConfig, InvalidOptions> =>
  Either.gen(function* () {
    const options = yield* Either.mapLeft(decode(input), invalidField)
    const listen = yield* Either.mapLeft(
      ListenSpec.parseListenSpecs(options.ports, options.paths),
      (e) => new InvalidOptions({ message: e.message })
    )
    const readiness = yield* Either.mapLeft(
      Readiness.parse(options.readiness),
      (message) => new InvalidOptions({ message })
    )
    if (readiness._tag === "Probe") {
      const held = Readiness.probedListenSocket(readiness.probe, listen)
      if (held !== undefined) {
        return yield* Either.left(
          new InvalidOptions({
            message: `--ready=${options.readiness} probes ${held.key}, a socket start_server holds: it answers while no worker runs, and any generation may serve it; probe an address of the worker's own, such as unix:/run/app/{pid}.sock`
          })
        )
      }
    }
    const signalOnHup = yield* signalOption(options.signalOnHup)
    const signalOnTerm = yield* signalOption(options.signalOnTerm)
    if (options.listenFds && listen.some((spec) => spec.fd !== undefined)) {
      return yield* Either.left(new InvalidOptions({ message: "--listen-fds cannot be combined with --port=…=fd" }))
    }
    return {
      listen,
      controlSocket: options.controlSocket,
      backlog: options.backlog,
      pathMode: options.pathMode === undefined ? undefined : Number.parseInt(options.pathMode, 8),
      pidFile: options.pidFile,
      pid,
      supervisor: SupervisorConfig.make({
        argv: options.command,
        cwd: options.dir,
        workers: options.workers,
        maxSurge: options.maxSurge,
        readiness,
        intervalMs: options.intervalMs,
        readyTimeoutMs: options.readyTimeoutMs,
        signalOnHup,
        signalOnTerm,
        killOldDelayMs: options.killOldDelayMs,
        killTimeoutMs: options.killTimeoutMs,
        autoRestart:
          options.autoRestartIntervalMs === undefined ? undefined : { intervalMs: options.autoRestartIntervalMs },
        maxStartAttempts: options.maxStartAttempts,
        listenFds: options.listenFds,
        signalProcessGroup: options.signalProcessGroup,
        reloadTunables: options.reloadTunables
      })
    }
  })
