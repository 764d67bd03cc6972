/**
 * The whole command line as @effect/cli defines it: `start_server [options] -- program…`, and
 * each client command (`start_server status`, `scale N`, …) as a subcommand with the options
 * and arguments it takes, described by the ClientCommands table.
 *
 * Only the supervisor loads this module. The clients, `--help` and `--version` read their
 * command line through Getopt alone (Main.ts), because loading @effect/cli would cost them
 * more than all their work; test/CliOptionsFromGetopt.test.ts holds that reading equal to
 * this definition's on generated command lines.
 */
import * as Args from "@effect/cli/Args"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import type * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Record from "effect/Record"
import * as Schema from "effect/Schema"
import { type ClientCommand, commands } from "./ClientCommands.js"
import { type CliOptions, fields, options, toCliOptions } from "./CliOptions.js"
import { keyOf } from "./CliOptionsFromGetopt.js"
import type { ClientCommandName } from "./CommandNames.js"
import { allOptions, canonicalTokens, GetoptError, getopt } from "./Getopt.js"

/** The server program and its arguments, after the options. */
const program = Args.text({ name: "server-prog" }).pipe(Args.repeated)

/** `start_server [options] -- server-prog server-arg…`: the supervisor. */
export const supervisor = Descriptor.make("start_server", options, program)

/** The options every client command takes. */
const common = {
  controlSocket: fields.controlSocket,
  pidFile: fields.pidFile,
  json: fields.json,
  timeoutMs: fields.timeoutMs
}

/** What each client command takes beyond the common options. */
const grammar: {
  readonly [Name in ClientCommandName]: {
    readonly options?: { readonly [key: string]: Options.Options<unknown> }
    readonly args: Args.Args<unknown>
  }
} = {
  status: { args: Args.none },
  restart: { args: Args.none },
  stop: { args: Args.none },
  // 1 to 1024 workers, as ControlCommands.scale checks (test/CommandLine.test.ts holds them equal).
  scale: { args: Args.integer({ name: "N" }).pipe(Args.withSchema(Schema.Int.pipe(Schema.between(1, 1024)))) },
  signal: { args: Args.text({ name: "SIG" }) },
  events: { args: Args.none },
  logs: { options: { follow: fields.follow, lines: fields.lines }, args: Args.none },
  "reopen-logs": { args: Args.none },
  upgrade: { options: { binary: fields.binary }, args: Args.none }
}

/** Whether Getopt's option `long` is CliOptions' `key` (`lines` is `lines`, `timeout` is `timeoutMs`). */
const isKey = (long: string, key: string) => allOptions.some((spec) => spec.name === long && keyOf(spec) === key)

/** The command's own options, each with the one-letter names the table gives it (`-f`, `-n`). */
const ownOptions = (command: ClientCommand) =>
  Record.map(grammar[command.name].options ?? {}, (option, key) =>
    Object.entries(command.shortNames ?? {})
      .filter(([, long]) => isKey(long, key))
      .reduce((aliased, [short]) => Options.withAlias(aliased, short), option)
  )

const subcommand = (command: ClientCommand) =>
  [
    command.name,
    Descriptor.make(command.name, Options.all({ ...common, ...ownOptions(command) }), grammar[command.name].args).pipe(
      Descriptor.withDescription(command.summary)
    )
  ] as const

/** `start_server COMMAND …` for every command in the ClientCommands table. */
export const startServer = Descriptor.withSubcommands(supervisor, Arr.map(commands, subcommand))

/**
 * What @effect/cli's parser asks for, and no more: NodeContext would also load the command
 * executor, crypto and the worker and socket layers, which a long-lived supervisor pays for in
 * memory. No option of ours is a file option, so the parser never touches a file system.
 */
const parserContext = Layer.mergeAll(FileSystem.layerNoop({}), NodePath.layer, NodeTerminal.layer)

/**
 * The supervisor's argv (without node and the script): Getopt::Long semantics, then the
 * `supervisor` command's options and arguments. Not through `Descriptor.parse`: its built-ins
 * would answer `--help` themselves, and `startServer` takes the first argument named like a
 * command for one, even after `--` (`-- app status`); see test/EffectCliPitfalls.test.ts.
 */
export const parseCommandLine = (
  argv: ReadonlyArray<string>,
  env: { readonly POSIXLY_CORRECT?: string | undefined } = {}
): Effect.Effect<CliOptions, GetoptError> =>
  Effect.gen(function* () {
    const parsed = getopt(argv, env)
    if (Either.isLeft(parsed)) return yield* Effect.fail(parsed.left)
    const tokens = canonicalTokens(parsed.right)
    const [error, leftover, value] = yield* Options.processCommandLine(options, tokens, CliConfig.defaultConfig)
    if (Option.isSome(error)) return yield* Effect.fail(error.value)
    if (leftover.length > 0) return yield* Effect.fail(new GetoptError([`Unknown option: ${leftover.join(" ")}`]))
    const [, server] = yield* Args.validate(program, parsed.right.program, CliConfig.defaultConfig)
    return toCliOptions(value, server)
  }).pipe(
    Effect.mapError((e) => (e instanceof GetoptError ? e : new GetoptError([validationText(e)]))),
    Effect.provide(parserContext)
  )

const validationText = (error: ValidationError.ValidationError): string =>
  "error" in error ? HelpDoc.toAnsiText(error.error).trim() : String(error)
