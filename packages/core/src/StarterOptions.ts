/**
 * The supervisor's configuration: what an Effect application passes to `StarterLive`, and
 * what the `start_server` command line is translated into. Durations are any
 * `DurationInput` (`500`, meaning milliseconds, `"5 seconds"`, `Duration.minutes(2)`);
 * listen specs use the `--port` / `--path` grammar. One pipeline: `StarterConfigFromOptions`
 * decodes what an application or the command line wrote into the resolved configuration, with
 * the defaults of `SupervisorConfig.defaults`, and every invalid value is one `InvalidOptions`.
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as ListenSpec from "./ListenSpec.js"
import * as Readiness from "./Readiness.js"
import * as Signal from "./Signal.js"
import type { StarterConfig } from "./Starter.js"
import * as SupervisorConfig from "./SupervisorConfig.js"

const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(schema)

/** A duration as Effect reads one (a number is milliseconds), as milliseconds. */
const DurationInput = Schema.declare(
  (u: unknown): u is Duration.DurationInput =>
    !(typeof u === "number" && (Number.isNaN(u) || u < 0)) && Option.isSome(Duration.decodeUnknown(u)),
  { message: () => 'a duration expected, such as 500 (milliseconds), "5 seconds" or Duration.minutes(2)' }
)
const Millis = Schema.transform(DurationInput, Schema.Number.pipe(Schema.nonNegative()), {
  strict: false,
  decode: (input) => Duration.toMillis(Duration.decode(input)),
  encode: (ms) => ms
})
const defaults = SupervisorConfig.defaults

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
  workers: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1024)), { default: () => defaults.workers }),
  maxSurge: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => defaults.maxSurge }),
  /**
   * `--ready`: `none` (Perl: alive after the interval), `notify-fd`, `ipc`, `sd-notify`, or a
   * probe: `tcp:HOST:PORT`, `unix:PATH`, `http://…` (`{pid}`, `{index}`, `{generation}` expand).
   */
  readiness: Schema.optionalWith(ReadinessText, { default: () => defaults.readinessText }),
  /** `--interval`: Perl's "alive after" check, without `readiness`. */
  interval: Schema.optionalWith(Millis, { default: () => defaults.intervalMs }),
  readyTimeout: Schema.optionalWith(Millis.pipe(Schema.positive()), { default: () => defaults.readyTimeoutMs }),
  signalOnHup: Schema.optionalWith(SignalText, { default: () => defaults.signal }),
  signalOnTerm: Schema.optionalWith(SignalText, { default: () => defaults.signal }),
  killOldDelay: Schema.optionalWith(Millis, { default: () => defaults.killOldDelayMs }),
  killTimeout: optional(Millis),
  /** Restart every this long (`--enable-auto-restart`); unset: never. */
  autoRestartInterval: optional(Millis),
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
  listenFds: Schema.optionalWith(Schema.Boolean, { default: () => defaults.listenFds }),
  /** Signal each worker's whole process group, so its children stop with it. */
  signalProcessGroup: Schema.optionalWith(Schema.Boolean, { default: () => defaults.signalProcessGroup }),
  /**
   * Re-read ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL and KILL_OLD_DELAY from the environment
   * and the envdir whenever something happens, as Perl does (they override the values above).
   */
  reloadTunables: Schema.optionalWith(Schema.Boolean, { default: () => defaults.reloadTunables })
})

/** What an application writes: `command`, and any other field to change its default. */
export interface StarterOptions extends Schema.Schema.Encoded<typeof StarterOptionsSchema> {}

/** Options that make no sense: a field out of range, a bad `--port`, an unknown signal. */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
  message: Schema.String,
  /** The option's field (`workers`), when the problem is one field's. */
  field: Schema.optional(Schema.String)
}) {}

const signalOption = (text: string): Either.Either<SupervisorConfig.SignalOption, string> =>
  Either.map(Signal.parseSignal(text), (signal) => ({ signal, label: Signal.normalizeSignalOption(text) }))

/** The configuration the options resolve to (the supervisor's pid is added at start). */
export type ResolvedConfig = Omit<StarterConfig, "pid">

/** Checks across fields, and the parsing of the texts: one message, or the configuration. */
const resolve = (options: typeof StarterOptionsSchema.Type): Either.Either<ResolvedConfig, string> =>
  Either.gen(function* () {
    const listen = yield* Either.mapLeft(ListenSpec.parseListenSpecs(options.ports, options.paths), (e) => e.message)
    const readiness = yield* Readiness.parse(options.readiness)
    if (readiness._tag === "Probe") {
      const held = Readiness.probedListenSocket(readiness.probe, listen)
      if (held !== undefined) {
        return yield* Either.left(
          `--ready=${options.readiness} probes ${held.key}, a socket start_server holds: it answers while no worker runs, and any generation may serve it; probe an address of the worker's own, such as unix:/run/app/{pid}.sock`
        )
      }
    }
    const signalOnHup = yield* signalOption(options.signalOnHup)
    const signalOnTerm = yield* signalOption(options.signalOnTerm)
    if (options.listenFds && listen.some((spec) => spec.fd !== undefined)) {
      return yield* Either.left("--listen-fds cannot be combined with --port=…=fd")
    }
    return {
      listen,
      controlSocket: options.controlSocket,
      backlog: options.backlog,
      pathMode: options.pathMode === undefined ? undefined : Number.parseInt(options.pathMode, 8),
      pidFile: options.pidFile,
      supervisor: SupervisorConfig.make({
        argv: options.command,
        cwd: options.dir,
        workers: options.workers,
        maxSurge: options.maxSurge,
        readiness,
        intervalMs: options.interval,
        readyTimeoutMs: options.readyTimeout,
        signalOnHup,
        signalOnTerm,
        killOldDelayMs: options.killOldDelay,
        // An infinite timeout is no timeout.
        killTimeoutMs: Number.isFinite(options.killTimeout) ? options.killTimeout : undefined,
        autoRestart:
          options.autoRestartInterval === undefined ? undefined : { intervalMs: options.autoRestartInterval },
        maxStartAttempts: options.maxStartAttempts,
        listenFds: options.listenFds,
        signalProcessGroup: options.signalProcessGroup,
        reloadTunables: options.reloadTunables
      })
    }
  })

const Resolved = Schema.declare(
  (u: unknown): u is ResolvedConfig => typeof u === "object" && u !== null && "supervisor" in u,
  {
    identifier: "ResolvedConfig"
  }
)

/** The one pipeline from what was written to what runs: decode, defaults, then `resolve`. */
export const StarterConfigFromOptions = Schema.transformOrFail(StarterOptionsSchema, Resolved, {
  strict: true,
  decode: (options, _, ast) =>
    Either.mapLeft(resolve(options), (message) => new ParseResult.Type(ast, options, message)),
  encode: (config, _, ast) =>
    ParseResult.fail(new ParseResult.Forbidden(ast, config, "a resolved configuration is not written back as options"))
})

const decode = Schema.decodeUnknownEither(StarterConfigFromOptions)

/** The first issue is the field's own; later ones restate it for `optional`'s undefined. */
const invalidOptions = (error: ParseResult.ParseError): InvalidOptions => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  const field = issue?.path.join(".") ?? ""
  const message = issue?.message ?? "invalid options"
  return field === "" ? new InvalidOptions({ message }) : new InvalidOptions({ message: `${field}: ${message}`, field })
}

/** Checks the options, fills in the defaults and resolves them; any problem is one `InvalidOptions`. */
export const toStarterConfig = (input: StarterOptions, pid: number): Either.Either<StarterConfig, InvalidOptions> =>
  Either.map(Either.mapLeft(decode(input), invalidOptions), (config) => ({ ...config, pid }))

/**
 * What deserves a warning in options that work: decided here, printed by whoever runs the
 * supervisor (the binary once it runs, so that a refused start is not warned about first).
 */
export const warnings = (input: StarterOptions): ReadonlyArray<string> => {
  const readiness = input.readiness ?? defaults.readinessText
  return [
    ...((input.ports ?? []).length === 0 && (input.paths ?? []).length === 0
      ? ["no --port or --path: the server program gets no listening socket (SERVER_STARTER_PORT is empty)"]
      : []),
    ...(input.readyTimeout !== undefined && readiness === "none"
      ? ["--ready-timeout has no effect without --ready"]
      : []),
    ...(readiness.includes("{index}") && !readiness.includes("{pid}")
      ? [
          `--ready=${readiness}: a new worker takes the index of the one it replaces, which may still answer this probe; {pid} names each worker's own address`
        ]
      : [])
  ]
}

/** The fields `Config` may set; each unset one keeps its default. */
const configFields = Config.all({
  command: Config.array(Config.string(), "COMMAND"),
  ports: Config.option(Config.array(Config.string(), "PORTS")),
  paths: Config.option(Config.array(Config.string(), "PATHS")),
  workers: Config.option(Config.integer("WORKERS")),
  maxSurge: Config.option(Config.integer("MAX_SURGE")),
  readiness: Config.option(Config.string("READINESS")),
  interval: Config.option(Config.string("INTERVAL")),
  readyTimeout: Config.option(Config.string("READY_TIMEOUT")),
  killTimeout: Config.option(Config.string("KILL_TIMEOUT")),
  killOldDelay: Config.option(Config.string("KILL_OLD_DELAY")),
  signalOnHup: Config.option(Config.string("SIGNAL_ON_HUP")),
  signalOnTerm: Config.option(Config.string("SIGNAL_ON_TERM")),
  pidFile: Config.option(Config.string("PID_FILE")),
  statusFile: Config.option(Config.string("STATUS_FILE")),
  controlSocket: Config.option(Config.string("CONTROL_SOCKET"))
}).pipe(Config.nested("STARTER"))

/** The fields `Config` found, without the unset ones. */
const present = (fields: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const result: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) {
    if (!Option.isOption(value)) result[key] = value
    else if (Option.isSome(value)) result[key] = value.value
  }
  return result
}

const decodeOptions = Schema.decodeUnknownEither(StarterOptionsSchema)

/**
 * The options from Effect's `Config` (for `StarterLive.layerConfig`): under the default
 * provider, `STARTER_COMMAND` (comma-separated argv), `STARTER_PORTS`, `STARTER_PATHS`,
 * `STARTER_WORKERS`, `STARTER_READINESS`, `STARTER_KILL_TIMEOUT` (a duration such as
 * "10 seconds"), … one variable per field in upper snake case, checked as any options are.
 */
export const optionsFromConfig: Effect.Effect<StarterOptions, ConfigError.ConfigError | InvalidOptions> =
  Effect.flatMap(configFields, (fields) => Either.mapLeft(decodeOptions(present(fields)), invalidOptions))
