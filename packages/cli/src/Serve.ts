/**
 * `start_server [options] -- program args…`: run the supervisor in this process until
 * TERM or INT, with the live Node layers behind every port of @starter/core.
 */
import { FirstStart, ListenSockets, Starter, type StarterOptions, toStarterConfig, warnings } from "@starter/core"
import {
  type EarlyListen,
  Envdir,
  Handover,
  InheritedFds,
  LogFile,
  NodeDaemon,
  NodeListenSockets,
  NodeLogs,
  NodePidFile,
  NodeStatusObserver,
  SocketActivation,
  SystemdNotify
} from "@starter/platform-node"
import * as DistinctFiles from "@starter/platform-shared/DistinctFiles"
import * as ExitDeadline from "@starter/platform-shared/ExitDeadline"
import * as Pid1StandIn from "@starter/platform-shared/Pid1StandIn"
import type * as StarterServices from "@starter/platform-shared/StarterServices"
import * as Takeover from "@starter/platform-shared/Takeover"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { CliOptions } from "./CliOptions.js"
import * as Runtime from "./Runtime.js"
import * as RuntimeServices from "./RuntimeServices.js"
import { commandLineMessage, environmentFromOptions, toStarterOptions } from "./StarterOptionsFromCli.js"
import { version } from "./Usage.js"

/** One line on stderr: the bare message in text logs (Perl's), an error record in JSON logs. */
const printError = (message: string) => Effect.logError(message)

/** Perl's die: errno becomes the exit status (EADDRINUSE → 98), else 255. */
const exitCodeOf = (error: { readonly errno: number | undefined }) => error.errno ?? 255

/**
 * What a daemon tells its foreground (`undefined`: serving, exit 0). A first worker that failed
 * to start is a failure (exit 1) although the daemon keeps trying, as Perl's would; a daemon
 * that exits before serving gives its own exit code (never 0: it did not start).
 */
const daemonFailure = (
  outcome: FirstStart.Outcome,
  pid: number
): { readonly exitCode: number; readonly message: string } | undefined =>
  FirstStart.Outcome.$match(outcome, {
    Serving: () => undefined,
    Retrying: ({ reason }) => ({
      exitCode: 1,
      message: `the first worker failed to start: ${reason}; start_server (pid:${pid}) keeps retrying, see its --log-file`
    }),
    Exited: ({ exitCode, message }) => ({ exitCode: exitCode === 0 ? 1 : exitCode, message })
  })

/**
 * The foreground of `--daemonize`: bind here, so bind errors reach the operator with their
 * exit code, then hand the sockets to the daemon. This scope is never closed: the daemon
 * owns the sockets and their paths now (Perl's parent dismisses its guard, issue #34).
 */
const daemonize = (config: Starter.StarterConfig, argv: ReadonlyArray<string>, log: LogFile.LogTarget | undefined) =>
  Effect.gen(function* () {
    // The daemon takes the pid file only after this binds: a running instance's is checked
    // first, so that a refused second one never touches its sockets.
    if (config.pidFile !== undefined) yield* NodePidFile.checkUnlocked(config.pidFile)
    const scope = yield* Scope.make()
    const sockets = yield* ListenSockets.ListenSockets.pipe(
      Effect.flatMap((s) => s.open(config.listen, { backlog: config.backlog, pathMode: config.pathMode })),
      Scope.extend(scope),
      Effect.provide(NodeListenSockets.layer),
      Effect.provide(RuntimeServices.libcLayer)
    )
    return yield* NodeDaemon.spawnDaemon(argv, sockets, log)
  }).pipe(Effect.catchAll((error) => Effect.as(printError(error.message), exitCodeOf(error))))

/**
 * Runs the supervisor; answers the exit code. `handoff` is set in a daemon, `takeover` in a
 * new supervisor that `start_server upgrade` started; `log` is pointed at once the sockets
 * are bound; `logs` takes the workers' output when it comes through this process (tagged,
 * or relayed with a control socket); `successor` is how this one starts a new supervisor in
 * turn.
 */
const supervise = (
  config: Starter.StarterConfig,
  options: StarterOptions,
  {
    handoff,
    takeover,
    early,
    logs,
    successor
  }: {
    readonly handoff: NodeDaemon.Handoff | undefined
    readonly takeover: Takeover.Takeover | undefined
    readonly early: EarlyListen.EarlySockets | undefined
    readonly logs: NodeLogs.NodeLogs
    readonly successor: StarterServices.ServiceOptions["successor"]
  },
  log: LogFile.LogTarget | undefined,
  systemd: { readonly notifySocket: string | undefined; readonly sockets: ReadonlyArray<number> | undefined }
) => {
  // A new supervisor owns none of the shared files until the old one hands them over.
  const handover = Handover.make(takeover === undefined)
  /** Whether this supervisor handed over to a new one (`start_server upgrade`) and retired. */
  let handedOver = false
  // What a daemon that exits without having served tells its foreground, after its clean-up.
  let lastWords: { readonly exitCode: number; readonly message: string } | undefined
  return Effect.gen(function* () {
    const redirect = log === undefined ? Effect.void : logs.redirectOutput(log)
    const supervisor = yield* Starter.start(config, redirect).pipe(
      Effect.tapError((error) =>
        handoff === undefined
          ? Effect.void
          : NodeDaemon.report(handoff, { exitCode: exitCodeOf(error), message: error.message })
      )
    )
    // A daemon's foreground waits until the first generation serves, or hears why not; a
    // daemon that exits tells it once its files are gone (below), so nothing is left then.
    const reporter =
      handoff === undefined
        ? undefined
        : yield* Effect.fork(
            Effect.scoped(
              Effect.flatMap(FirstStart.outcome(supervisor), (outcome) => {
                if (outcome._tag !== "Exited") return NodeDaemon.report(handoff, daemonFailure(outcome, config.pid))
                lastWords = daemonFailure(outcome, config.pid)
                return Effect.void
              })
            )
          )
    if (takeover !== undefined)
      yield* Effect.forkScoped(Takeover.run(RuntimeServices.runtime.readPipe, takeover, supervisor, handover, version))
    // Once it runs: a start refused for another reason is not warned about first.
    for (const warning of warnings(options)) yield* Effect.logWarning(warning)
    // Subscribed now; the stream ends after the supervisor's last event.
    const watching = yield* Effect.fork(
      Stream.runForEach(yield* supervisor.subscribe, (event) =>
        Effect.sync(() => {
          if (event._tag === "ShutdownStarted" && event.signal === "handover") {
            handedOver = true
            Pid1StandIn.rememberStopSignals()
          }
        })
      )
    )
    const code = yield* supervisor.exitCode
    yield* Fiber.join(watching)
    // The foreground hears why before this process is gone.
    if (reporter !== undefined) yield* Fiber.join(reporter)
    // Every worker is gone: what is left to close must not hold the exit. (A PID 1 that handed
    // over lives on as the new supervisor's init: no deadline for it.)
    if (!(handedOver && Pid1StandIn.needed())) yield* ExitDeadline.arm(code, Runtime.libc)
    return code
  }).pipe(
    Effect.scoped,
    Effect.tap(() =>
      handoff === undefined || lastWords === undefined ? Effect.void : NodeDaemon.report(handoff, lastWords)
    ),
    Effect.catchAll((error) => Effect.as(printError(error.message), exitCodeOf(error))),

    Effect.provide(
      RuntimeServices.layer({
        statusFile: options.statusFile,
        envdir: options.envdir,
        jsonStatusFile: options.jsonStatusFile,
        metricsFile: options.metricsFile,
        handleSignals: true,
        reapOrphans: true,
        notifySocket: systemd.notifySocket,
        systemdSockets: systemd.sockets,
        adoptedSockets: handoff?.sockets ?? takeover?.layout.sockets,
        adoptedRemovePaths: takeover?.state.removePaths,
        adoptedPidFile: takeover?.layout.pidFile ?? undefined,
        adoptedControlSocket: takeover?.layout.control ?? undefined,
        handover,
        successor,
        earlySockets: early,
        workerOutput: logs.workerOutput
      })
    ),
    // As PID 1, the new supervisor lives only as long as this process does (see Pid1StandIn):
    // with every service of this one released, it stands in as init.
    Effect.flatMap((code) =>
      handedOver && Pid1StandIn.needed() ? Pid1StandIn.standIn(Runtime.libc) : Effect.succeed(code)
    )
  )
}

const serveWith = (
  logs: NodeLogs.NodeLogs,
  options: CliOptions,
  argv: ReadonlyArray<string>,
  early?: EarlyListen.EarlySockets
): Effect.Effect<number> =>
  Effect.gen(function* () {
    // What our caller left open reaches no worker (Perl passes only its sockets).
    InheritedFds.closeOnExec(Runtime.libc)
    const taken = Takeover.take(Runtime.libc)
    if (taken !== undefined && Either.isLeft(taken)) {
      yield* printError(taken.left)
      return 255
    }
    const takeover = taken?.right
    const handedOff = NodeDaemon.takeHandoff(Runtime.libc)
    if (handedOff !== undefined && Either.isLeft(handedOff)) {
      yield* printError(handedOff.left)
      return 255
    }
    const handoff = handedOff?.right
    // The old supervisor took systemd's socket out of its environment: it hands it over.
    const notifySocket = SystemdNotify.takeNotifySocket() ?? takeover?.state.notifySocket
    const systemdFds = SocketActivation.take(Runtime.libc)
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
    // Sockets passed by systemd are matched with --port/--path before any file is opened.
    const activated = yield* Effect.either(SocketActivation.adopt(systemdFds, options))
    if (Either.isLeft(activated)) {
      yield* printError(activated.left.message)
      return 255
    }
    // A new supervisor listens on what the old one did, systemd's sockets included.
    const listen = takeover?.state ?? activated.right ?? options
    // Every option is checked before any file is opened or anything is printed.
    const starterOptions = toStarterOptions(
      { ...options, ports: [...listen.ports], paths: [...listen.paths] },
      [program, ...args],
      startupEnv
    )
    const checked = toStarterConfig(starterOptions, process.pid)
    if (Either.isLeft(checked)) {
      yield* printError(commandLineMessage(checked.left))
      return 255
    }
    // A new supervisor continues the old one's generations, with its number of workers.
    const config: Starter.StarterConfig =
      takeover === undefined
        ? { ...checked.right, version }
        : {
            ...checked.right,
            version,
            supervisor: {
              ...checked.right.supervisor,
              generationBase: takeover.state.generation,
              workers: takeover.state.workers
            }
          }
    const pathProblem = [
      DistinctFiles.problem([
        ["pid-file", starterOptions.pidFile],
        ["status-file", starterOptions.statusFile],
        ["json-status-file", starterOptions.jsonStatusFile],
        ["metrics-file", starterOptions.metricsFile],
        ["control-socket", starterOptions.controlSocket]
      ]),
      NodeStatusObserver.pathProblem("json-status-file", starterOptions.jsonStatusFile),
      NodeStatusObserver.pathProblem("metrics-file", starterOptions.metricsFile)
    ].find((problem) => problem !== undefined)
    if (pathProblem !== undefined) {
      yield* printError(pathProblem)
      return 255
    }
    // Perl opens --log-file before it prints anything (Starter.pm L61-73); a daemon gets the
    // one its foreground opened.
    let log: LogFile.LogTarget | undefined = handoff?.log === undefined ? undefined : { fd: handoff.log }
    // A new supervisor's output already goes where the old one's went (--log-file included).
    if (log === undefined && options.logFile !== undefined && takeover === undefined) {
      const opened = yield* Effect.either(LogFile.open(options.logFile))
      if (Either.isLeft(opened)) {
        yield* printError(opened.left.message)
        return exitCodeOf(opened.left)
      }
      log = opened.right
    }
    // Then this line (before its socket errors, and before pointing its output at the log,
    // so it stays on the terminal).
    if (takeover !== undefined) {
      yield* Effect.logInfo(
        `start_server (pid:${process.pid}) version ${version} starting, to take over from start_server (pid:${takeover.state.pid})`
      )
    } else if (handoff === undefined) yield* Effect.logInfo(`start_server (pid:${process.pid}) starting now...`)
    if (options.daemonize && handoff === undefined && takeover === undefined) {
      return yield* daemonize(config, argv, log)
    }
    const successor = {
      argv,
      program: process.argv[1] ?? "",
      ports: listen.ports,
      paths: listen.paths,
      // systemd made them: their files are its own, under every supervisor that inherits them.
      removePaths: takeover?.state.removePaths ?? activated.right === undefined,
      notifySocket,
      pid1StandIn: true
    }
    return yield* supervise(config, starterOptions, { handoff, takeover, early, logs, successor }, log, {
      notifySocket,
      sockets: activated.right?.fds
    })
  }).pipe(Effect.provide(logs.layer), Effect.provide(RuntimeServices.libcLayer))

/**
 * Answers the process exit code. `argv` is the command line, for the daemon's copy; `early`,
 * the ports bound before this module loaded.
 */
export const serve = (
  options: CliOptions,
  argv: ReadonlyArray<string>,
  early?: EarlyListen.EarlySockets
): Effect.Effect<number> =>
  serveWith(
    NodeLogs.make({
      format: options.logFormat ?? "text",
      tagWorkers: options.logWorkerTags,
      relayWorkers: options.controlSocket !== undefined,
      logFile: options.logFile,
      libc: Runtime.libc
    }),
    options,
    argv,
    early
  )
