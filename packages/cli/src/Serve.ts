/**
 * `start_server [options] -- program args…`: run the supervisor in this process until
 * TERM or INT, with the live Node layers behind every port of @starter/core.
 */
import { ListenSockets, Starter, StarterOptions } from "@starter/core"
import {
  Envdir,
  LogFile,
  NodeDaemon,
  NodeListenSockets,
  NodeLogger,
  StarterLive,
  Stderr,
  SystemdNotify
} from "@starter/platform-node"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Scope from "effect/Scope"
import type { CliOptions } from "./CliOptions.js"
import { environmentFromOptions, toStarterOptions } from "./StarterOptionsFromCli.js"

const printError = (message: string) => Effect.sync(() => Stderr.writeStderr(`${message}\n`))

/** Perl's die: errno becomes the exit status (EADDRINUSE → 98), else 255. */
const exitCodeOf = (error: { readonly errno: number | undefined }) => error.errno ?? 255

/**
 * The foreground of `--daemonize`: bind here, so bind errors reach the operator with their
 * exit code, then hand the sockets to the daemon. This scope is never closed: the daemon
 * owns the sockets and their paths now (Perl's parent dismisses its guard, issue #34).
 */
const daemonize = (config: Starter.StarterConfig, argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const sockets = yield* ListenSockets.ListenSockets.pipe(
      Effect.flatMap((s) => s.open(config.listen, { backlog: config.backlog })),
      Scope.extend(scope),
      Effect.provide(NodeListenSockets.layer)
    )
    return yield* NodeDaemon.spawnDaemon(argv, sockets)
  }).pipe(Effect.catchAll((error) => Effect.as(printError(error.message), exitCodeOf(error))))

/** Runs the supervisor; answers the exit code. `handoff` is set in a daemon. */
const supervise = (
  config: Starter.StarterConfig,
  options: StarterOptions.StarterOptions,
  handoff: NodeDaemon.Handoff | undefined,
  systemd: { readonly notifySocket: string | undefined; readonly sockets: ReadonlyArray<number> | undefined }
) =>
  Effect.gen(function* () {
    const supervisor = yield* Starter.start(config).pipe(
      Effect.tapError((error) =>
        handoff === undefined
          ? Effect.void
          : NodeDaemon.report(handoff, { exitCode: exitCodeOf(error), message: error.message })
      )
    )
    if (handoff !== undefined) yield* NodeDaemon.report(handoff, undefined)
    return yield* supervisor.exitCode
  }).pipe(
    Effect.scoped,
    Effect.catchAll((error) => Effect.as(printError(error.message), exitCodeOf(error))),
    Effect.provide(
      StarterLive.services({
        statusFile: options.statusFile,
        envdir: options.envdir,
        jsonStatusFile: options.jsonStatusFile,
        metricsFile: options.metricsFile,
        handleSignals: true,
        notifySocket: systemd.notifySocket,
        systemdSockets: systemd.sockets,
        adoptedSockets: handoff?.sockets
      })
    )
  )

/** Answers the process exit code. `argv` is the command line, for the daemon's copy. */
export const serve = (options: CliOptions, argv: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.gen(function* () {
    const handoff = NodeDaemon.takeHandoff()
    const notifySocket = SystemdNotify.takeNotifySocket()
    const systemdSockets = NodeListenSockets.takeSystemdSockets()
    // Perl copies these options into %ENV: workers inherit them and the tunables read them.
    Object.assign(process.env, environmentFromOptions(options))
    const envdir = process.env.ENVDIR
    // The startup envdir also applies to the supervisor's own tunables (Perl 0.35, PR #51).
    const startupEnv = { ...process.env, ...(envdir === undefined ? {} : Envdir.readEnvdir(envdir)) }
    const [program, ...args] = options.program
    if (program === undefined) {
      yield* printError("server program not specified")
      return 255
    }
    // Perl prints this first (before its socket errors, and before redirecting to
    // --log-file, so it stays on the terminal).
    if (handoff === undefined) yield* Effect.logInfo(`start_server (pid:${process.pid}) starting now...`)
    const decoded = toStarterOptions(options, [program, ...args], startupEnv)
    if (Either.isLeft(decoded)) {
      yield* printError(decoded.left)
      return 255
    }
    const starterOptions = decoded.right
    const config = StarterOptions.toStarterConfig(starterOptions, process.pid)
    if (Either.isLeft(config)) {
      yield* printError(config.left.message)
      return 255
    }
    if (options.daemonize && handoff === undefined) return yield* daemonize(config.right, argv)
    if (options.logFile !== undefined) {
      const redirected = yield* Effect.either(LogFile.redirectOutput(options.logFile))
      if (Either.isLeft(redirected)) {
        yield* printError(redirected.left.message)
        return exitCodeOf(redirected.left)
      }
    }
    return yield* supervise(config.right, starterOptions, handoff, { notifySocket, sockets: systemdSockets })
  }).pipe(Effect.provide(NodeLogger.layer(options.logFormat ?? "text")))
