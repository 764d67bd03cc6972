/**
 * start_server's options as @effect/cli `Options`: the typed result of a command line.
 * They read the canonical tokens that Getopt.ts produces, never raw argv: @effect/cli's own
 * parser loses `--port=80` under `Options.repeated`, drops `--PORT 80`, swallows unknown
 * options and honours `--help` only as the first token (see test/CliOptions.test.ts).
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import type * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { canonicalTokens, durationMs, GetoptError, getopt } from "./Getopt.js"

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

export const options = Options.all({
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
})

type Parsed = typeof options extends Options.Options<infer A> ? A : never

/** What the rest of the binary reads: `undefined` for an option that was not given. */
export type CliOptions = {
  readonly [K in keyof Parsed]: Parsed[K] extends Option.Option<infer A> ? A | undefined : Parsed[K]
} & { readonly program: ReadonlyArray<string> }

const fromOptions = (parsed: Parsed, program: ReadonlyArray<string>): CliOptions => {
  const entries = Object.entries(parsed).map(([key, value]: [string, unknown]) => [
    key,
    Option.isOption(value) ? Option.getOrUndefined(value) : value
  ])
  return { ...(Object.fromEntries(entries) as Omit<CliOptions, "program">), program }
}

/**
 * What @effect/cli's parser asks for, and no more: NodeContext would also load the command
 * executor, crypto and the worker and socket layers, which a long-lived supervisor pays for in
 * memory. No option of ours is a file option, so the parser never touches a file system.
 */
const parserContext = Layer.mergeAll(FileSystem.layerNoop({}), NodePath.layer, NodeTerminal.layer)

/** Parses argv (without node and the script): Getopt::Long semantics, then @effect/cli. */
export const parseCommandLine = (
  argv: ReadonlyArray<string>,
  env: { readonly POSIXLY_CORRECT?: string | undefined } = {}
): Effect.Effect<CliOptions, GetoptError> =>
  Effect.gen(function* () {
    const parsed = getopt(argv, env)
    if (Either.isLeft(parsed)) return yield* Effect.fail(parsed.left)
    const tokens = canonicalTokens(parsed.right)
    const [error, leftover, value] = yield* Options.processCommandLine(options, tokens, CliConfig.defaultConfig).pipe(
      Effect.mapError((e) => new GetoptError([validationText(e)]))
    )
    if (Option.isSome(error)) return yield* Effect.fail(new GetoptError([validationText(error.value)]))
    if (leftover.length > 0) return yield* Effect.fail(new GetoptError([`Unknown option: ${leftover.join(" ")}`]))
    return fromOptions(value, parsed.right.program)
  }).pipe(Effect.provide(parserContext))

const validationText = (error: ValidationError.ValidationError): string =>
  "error" in error ? HelpDoc.toAnsiText(error.error).trim() : String(error)
