/**
 * The whole supervisor: bind the sockets, take the pid file, run the generation state
 * machine and route the process's signals to it. Used by the `start_server` binary and
 * by applications that embed the supervisor as a layer.
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Control from "./Control.js"
import * as ControlProtocol from "./ControlProtocol.js"
import { ControlServer, type ControlServerError } from "./ControlServer.js"
import * as FdLayout from "./FdLayout.js"
import { type ListenError, ListenSockets } from "./ListenSockets.js"
import type { ListenSpec } from "./ListenSpec.js"
import { Logs } from "./Logs.js"
import { PidFile, type PidFileError } from "./PidFile.js"
import type { ProcessSpawner } from "./ProcessSpawner.js"
import { type HandledSignal, SignalSource } from "./SignalSource.js"
import { StatusObserver } from "./StatusObserver.js"
import type { StatusStore } from "./StatusStore.js"
import * as Supervisor from "./Supervisor.js"
import type { SupervisorConfig } from "./SupervisorConfig.js"
import * as Upgrade from "./Upgrade.js"
import type { WorkerEnvironment } from "./WorkerEnvironment.js"

export interface StarterConfig {
  readonly listen: ReadonlyArray<ListenSpec>
  /** `--control-socket`: a unix socket speaking ControlProtocol. */
  readonly controlSocket: string | undefined
  readonly backlog: number | undefined
  /** `--path-mode`: the permission bits of the unix socket files; `undefined` = Perl's 0777. */
  readonly pathMode?: number | undefined
  readonly pidFile: string | undefined
  /** This process's pid, as written to the pid file. */
  readonly pid: number
  /** The supervisor's own version, as `status` reports it (the binary's `--version`). */
  readonly version?: string | undefined
  readonly supervisor: SupervisorConfig
}

export type StarterError = ListenError | PidFileError | ControlServerError

/** The running supervisor, and what only the whole of it can do: hand over to a new process. */
export interface Running extends Supervisor.Supervisor {
  /**
   * Starts a new supervisor (`binary`, else this one's program) on the same sockets and hands
   * over to it once its first generation serves; see Upgrade. Needs the `Successor` service.
   */
  readonly upgrade: (request: Upgrade.UpgradeRequest) => Effect.Effect<Upgrade.UpgradeOutcome>
  /** Whether this supervisor carries out a control command now, or refuses it (see Upgrade). */
  readonly admit: Upgrade.Upgrades["admit"]
  /** `scale`, carried out or refused (see Upgrade): what the control socket's `scale` does. */
  readonly scaleIfAdmitted: Upgrade.Upgrades["scale"]
}

/** The outcome of an upgrade that no client waits for (SIGUSR2), in the log. */
const logOutcome = (outcome: Upgrade.UpgradeOutcome): Effect.Effect<void> => {
  switch (outcome._tag) {
    case "Completed":
    case "Failed":
      return Effect.void // logged as it happened
    case "Busy":
      return Effect.logWarning(`received USR2, not upgrading: ${outcome.reason}`)
    case "Stopping":
      return Effect.logWarning("received USR2, not upgrading: start_server is stopping")
  }
}

export type StarterServices =
  | ListenSockets
  | PidFile
  | ProcessSpawner
  | StatusStore
  | WorkerEnvironment
  | SignalSource
  | ControlServer
  | StatusObserver

/** What each signal means to start_server (Perl's table, see docs/compatibility.md). */
const onSignal = (
  supervisor: Running,
  logs: Option.Option<Context.Tag.Service<Logs>>,
  signal: HandledSignal
): Effect.Effect<void> => {
  switch (signal) {
    case "HUP":
      return supervisor.restart("hup")
    case "TERM":
    case "QUIT":
      return supervisor.shutdown("TERM")
    case "INT":
      return supervisor.shutdown("INT")
    case "USR1":
      return Effect.logInfo(`received ${signal}, ignoring`)
    // Ours: neither Perl's start_server nor Node uses it (Node's inspector is USR1).
    case "USR2":
      // Forked: the signals that follow (a TERM) must not wait for the handover.
      return Effect.asVoid(Effect.fork(Effect.flatMap(supervisor.upgrade({}), logOutcome)))
    case "ALRM":
      return supervisor.alarm
    case "PIPE":
      return Effect.void
    // Reopens --log-file (logrotate); the outcome is logged. A terminal's resize sends it
    // too: harmless, and silent without --log-file.
    case "WINCH":
      return Option.match(logs, { onNone: () => Effect.void, onSome: (l) => Effect.ignore(l.reopen) })
  }
}

/** One request line in, reply lines out; a malformed request gets an error reply. */
const controlLine = (
  supervisor: Running,
  logs: Option.Option<Context.Tag.Service<Logs>>,
  line: string,
  closing: Effect.Effect<void>
): Stream.Stream<string> =>
  Either.match(ControlProtocol.parseLine(line), {
    onLeft: (reply) => Stream.make(reply),
    onRight: (request) => Control.handle(supervisor, request, logs, closing)
  }).pipe(Stream.map((reply) => JSON.stringify(reply)))

/**
 * Starts everything in the caller's scope and returns the running supervisor. `afterListen`
 * runs once the sockets are bound (where Perl redirects its output to `--log-file`, so that
 * bind errors still reach the terminal).
 */
export const start = <E = never>(
  config: StarterConfig,
  afterListen: Effect.Effect<void, E> = Effect.void
): Effect.Effect<Running, StarterError | E, Scope.Scope | StarterServices> =>
  Effect.gen(function* () {
    // The pid file's lock first: a second instance touches nothing (not even a stale-looking
    // socket file of the running one) before it knows it is alone.
    if (config.pidFile !== undefined) yield* (yield* PidFile).acquire(config.pidFile, config.pid)
    const sockets = yield* ListenSockets
    const bound = yield* sockets.open(config.listen, { backlog: config.backlog, pathMode: config.pathMode })
    yield* afterListen
    // The control socket is bound before any worker starts, so that its errors come first;
    // it answers once the supervisor runs.
    const running = yield* Deferred.make<Running>()
    // Optional: an embedding application may keep no log of its own for us to serve.
    const logs = yield* Effect.serviceOption(Logs)
    if (config.controlSocket !== undefined) {
      yield* (yield* ControlServer).listen(config.controlSocket, (line, closing) =>
        Stream.unwrap(Effect.map(Deferred.await(running), (supervisor) => controlLine(supervisor, logs, line, closing)))
      )
    }
    const machine = yield* Supervisor.make(config.supervisor, FdLayout.layout(bound, config.backlog))
    const upgrades = yield* Upgrade.make(machine, bound, config.pid)
    const scope = yield* Effect.scope
    const supervisor: Running = {
      ...machine,
      status: Effect.map(machine.status, (status) => ({
        ...status,
        supervisor: config.version === undefined ? { pid: config.pid } : { pid: config.pid, version: config.version }
      })),
      // An upgrade in progress holds restarts (see Upgrade).
      restart: upgrades.restart,
      restartAndWait: upgrades.restartAndWait,
      shutdown: upgrades.shutdown,
      // A stop during an upgrade has stopped the new supervisor too once this completes.
      exitCode: Effect.zipLeft(machine.exitCode, upgrades.quiet),
      admit: upgrades.admit,
      scaleIfAdmitted: upgrades.scale,
      // Its own fiber: a client that goes away (or a signal handler) never interrupts a handover half-way.
      upgrade: (request) => Effect.flatMap(Effect.forkIn(upgrades.upgrade(request), scope), Fiber.join)
    }
    yield* Deferred.succeed(running, supervisor)
    const { signals } = yield* SignalSource
    yield* Effect.forkScoped(Stream.runForEach(signals, (signal) => onSignal(supervisor, logs, signal)))
    const observer = yield* StatusObserver
    yield* Effect.forkScoped(
      Stream.runForEach(Stream.concat(Stream.make(undefined), supervisor.events), (event) =>
        Effect.flatMap(supervisor.status, (status) => observer.observe(status, event))
      )
    )
    return supervisor
  })

/** The embedded supervisor as a service: what `StarterLive` provides to an application. */
export class Starter extends Context.Tag("@starter/core/Starter")<Starter, Running>() {}

/** The supervisor, running for the lifetime of the layer. */
export const layer = (config: StarterConfig): Layer.Layer<Starter, StarterError, StarterServices> =>
  Layer.scoped(Starter, start(config))
