/**
 * start_server's options as @effect/cli `Options`: the typed result of a command line.
 * They read the canonical tokens that Getopt.ts produces, never raw argv: @effect/cli's own
 * parser loses `--port=80` under `Options.repeated`, drops `--PORT 80`, swallows unknown
 * options and honours `--help` only as the first token (see test/EffectCliPitfalls.test.ts).
 * CommandLine.ts builds the whole command line, the client commands too, from these.
 */
import * as Options from "@effect/cli/Options"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { durationMs } from "./Getopt.js"

/** `5`, `0.5` (seconds) or `500ms`, `5s`, `2m`: milliseconds. */
export const DurationMs = Schema.transformOrFail(Schema.String, Schema.NonNegative, {
  strict: true,
  decode: (s, _, ast) => {
    const ms = durationMs(s)
    return ms === undefined
      ? ParseResult.fail(new ParseResult.Type(ast, s, `Value "${s}" is not a duration`))
      : ParseResult.succeed(ms)
  },
  encode: (ms) => ParseResult.succeed(`${ms}ms`)
})

const text = (name: string) => Options.text(name).pipe(Options.optional)
const integer = (name: string) => Options.integer(name).pipe(Options.optional)
const flag = (name: string) => Options.boolean(name)
const duration = (name: string) => Options.text(name).pipe(Options.withSchema(DurationMs), Options.optional)

/** Each option alone: the client commands take some of them (CommandLine.ts). */
export const fields = {
  ports: Options.text("port").pipe(Options.repeated),
  paths: Options.text("path").pipe(Options.repeated),
  interval: integer("interval"),
  logFile: text("log-file"),
  pidFile: text("pid-file"),
  dir: text("dir"),
  signalOnHup: text("signal-on-hup"),
  signalOnTerm: text("signal-on-term"),
  backlog: integer("backlog"),
  envdir: text("envdir"),
  enableAutoRestart: flag("enable-auto-restart"),
  daemonize: flag("daemonize"),
  autoRestartInterval: integer("auto-restart-interval"),
  killOldDelay: integer("kill-old-delay"),
  statusFile: text("status-file"),
  restart: flag("restart"),
  stop: flag("stop"),
  help: flag("help"),
  version: flag("version"),
  workers: integer("workers"),
  maxSurge: integer("max-surge"),
  ready: text("ready"),
  readyTimeoutMs: duration("ready-timeout"),
  killTimeoutMs: duration("kill-timeout"),
  maxStartAttempts: integer("max-start-attempts"),
  logFormat: Options.choice("log-format", ["text", "json"]).pipe(Options.optional),
  controlSocket: text("control-socket"),
  jsonStatusFile: text("json-status-file"),
  metricsFile: text("metrics-file"),
  json: flag("json"),
  listenFds: flag("listen-fds"),
  signalProcessGroup: flag("signal-process-group"),
  pathMode: text("path-mode"),
  timeoutMs: duration("timeout"),
  logWorkerTags: flag("log-worker-tags"),
  follow: flag("follow"),
  lines: integer("lines"),
  binary: text("binary")
}

export const options = Options.all(fields)

export type Parsed = typeof options extends Options.Options<infer A> ? A : never

/** What the rest of the binary reads: `undefined` for an option that was not given. */
export type CliOptions = {
  readonly [K in keyof Parsed]: Parsed[K] extends Option.Option<infer A> ? A | undefined : Parsed[K]
} & { readonly program: ReadonlyArray<string> }

/** @effect/cli's reading as the rest of the binary takes it: `undefined` for an option not given. */
export const toCliOptions = (parsed: Parsed, program: ReadonlyArray<string>): CliOptions => {
  const entries = Object.entries(parsed).map(([key, value]: [string, unknown]) => [
    key,
    Option.isOption(value) ? Option.getOrUndefined(value) : value
  ])
  return { ...(Object.fromEntries(entries) as Omit<CliOptions, "program">), program }
}
