/**
 * The new supervisor's side of `start_server upgrade`. It was started by the old one (see
 * NodeSuccessor) with, at fixed descriptors: the command pipe (3), the report pipe (4), then
 * the pid file's locked descriptor, the control socket, and every listening socket, named in
 * STARTER_UPGRADE_HANDOFF. The command pipe's first line is the old supervisor's state.
 *
 * It starts its first generation on the inherited sockets, writing no shared file, and says
 * `ready` once it serves (or `failed`, and stops). On `commit` it takes the pid file, the
 * status files and the control socket (Handover), and says `committed`. If the old one goes
 * away before that, it stops: the service stays as it was.
 */
import * as fs from "node:fs"
import { Lifecycle, Machine, type Starter, Successor } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Handover from "./Handover.js"
import type * as Libc from "./Libc.js"
import { type ReadPipe, readLines } from "./PipeLines.js"
import type * as StarterServices from "./StarterServices.js"

export const variable = "STARTER_UPGRADE_HANDOFF"

const Layout = Schema.Struct({
  commands: Schema.Int,
  reports: Schema.Int,
  pidFile: Schema.NullOr(Schema.Int),
  control: Schema.NullOr(Schema.Int),
  sockets: Schema.Array(Schema.Int)
})
export type Layout = typeof Layout.Type

/** The descriptors in the new process, in the order NodeSuccessor passes them from 3 on. */
export const layout = (has: {
  readonly pidFile: boolean
  readonly control: boolean
  readonly sockets: number
}): Layout => {
  let next = 5
  const pidFile = has.pidFile ? next++ : null
  const control = has.control ? next++ : null
  return { commands: 3, reports: 4, pidFile, control, sockets: Array.from({ length: has.sockets }, () => next++) }
}

/** What the old supervisor tells the new one about itself. */
export const State = Schema.Struct({
  pid: Schema.Int,
  /** The last generation number it handed out. */
  generation: Schema.Int,
  workers: Schema.Int,
  /** The `--port` and `--path` values of the sockets, in their order (systemd's included). */
  ports: Schema.Array(Schema.String),
  paths: Schema.Array(Schema.String),
  /** False when systemd made the sockets: their files are its own. */
  removePaths: Schema.Boolean,
  notifySocket: Schema.optional(Schema.String)
})
export type State = typeof State.Type

export interface Takeover {
  readonly layout: Layout
  readonly state: State
}

/** Reads one line from a blocking pipe, byte by byte: nothing after it is consumed. */
const readLine = (fd: number): string => {
  const bytes: Array<number> = []
  const one = Buffer.alloc(1)
  for (;;) {
    if (fs.readSync(fd, one, 0, 1, null) === 0 || one[0] === 0x0a) return Buffer.from(bytes).toString("utf8")
    bytes.push(one[0]!)
  }
}

/**
 * In the new supervisor: the takeover, if this process is one (the variable is removed, so
 * workers never see it); `Left` when what it was handed cannot be read.
 */
export const take = (libc: Libc.Service): Either.Either<Takeover, string> | undefined => {
  const raw = process.env[variable]
  if (raw === undefined) return undefined
  delete process.env[variable]
  const decoded = Schema.decodeUnknownEither(Schema.parseJson(Layout))(raw)
  if (Either.isLeft(decoded)) return Either.left(`${variable}: ${decoded.left.message}`)
  const fds = decoded.right
  // Inherited descriptors are not close-on-exec: workers get the sockets only where placed.
  for (const fd of [fds.commands, fds.reports, fds.pidFile, fds.control, ...fds.sockets]) {
    if (fd !== null) libc.setCloexec(fd)
  }
  let line: string
  try {
    line = readLine(fds.commands)
  } catch (error) {
    return Either.left(`cannot read the old supervisor's state: ${String(error)}`)
  }
  return Either.map(
    Either.mapLeft(
      Schema.decodeUnknownEither(Schema.parseJson(State))(line),
      (e) => `the old supervisor's state: ${e.message}`
    ),
    (state) => ({ layout: fds, state })
  )
}

const report = (takeover: Takeover, r: Parameters<typeof Successor.encodeReport>[0]) =>
  Effect.sync(() => {
    try {
      fs.writeSync(takeover.layout.reports, `${Successor.encodeReport(r)}\n`)
    } catch {
      // the old supervisor is gone: its commands pipe ends too, and that is handled there
    }
  })

/** The commands after the state: `commit`, or `undefined` when the old supervisor closed the pipe. */
const commands = (readPipe: ReadPipe, fd: number) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<string | undefined>()
    const stream = readLines(
      readPipe,
      fd,
      (line) => Queue.unsafeOffer(queue, line),
      () => Queue.unsafeOffer(queue, undefined)
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => stream.destroy()))
    return Queue.take(queue)
  })

/** How the first generation ended: its number once it serves, or why it could not. */
const firstGeneration = (supervisor: Starter.Running) =>
  Effect.gen(function* () {
    const events = yield* supervisor.subscribe
    const state = yield* supervisor.state
    if (Machine.isRolledOut(state)) return Either.right(state.generation)
    const outcomes = Stream.filterMap(events, (event): Option.Option<Either.Either<number, string>> => {
      switch (event._tag) {
        case "RolloutCompleted":
          return Option.some(Either.right(event.generation))
        // Retrying is for a supervisor that has nothing else; here the old one serves on.
        case "StartFailed":
          return Option.some(Either.left(`its worker failed to start: ${Lifecycle.explainFailure(event.failure)}`))
        case "ShutdownStarted":
          return Option.some(Either.left("it was stopped"))
        default:
          return Option.none()
      }
    })
    // The events end only after a shutdown, whose start answers first.
    return Option.getOrElse(yield* Stream.runHead(outcomes), () => Either.left("it was stopped"))
  })

/** Runs the takeover protocol for the running supervisor of a new process (see the top). */
export const run = (
  readPipe: ReadPipe,
  takeover: Takeover,
  supervisor: Starter.Running,
  handover: Handover.Handover,
  version: string
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const old = takeover.state.pid
    const next = yield* commands(readPipe, takeover.layout.commands)
    const first = yield* firstGeneration(supervisor)
    if (Either.isLeft(first)) {
      yield* report(takeover, Successor.Report.Failed({ reason: `the new supervisor failed: ${first.left}` }))
      yield* Effect.logError(`not taking over from start_server (pid:${old}): ${first.left}`)
      return yield* supervisor.shutdown("TERM", "control")
    }
    yield* report(takeover, Successor.Report.Ready({ pid: process.pid, version, generation: first.right }))
    const command = yield* next
    if (command !== Successor.commitLine) {
      yield* Effect.logError(`start_server (pid:${old}) did not hand over; stopping`)
      return yield* supervisor.shutdown("TERM", "control")
    }
    yield* handover.setOwned(true)
    const taken = yield* Effect.either(Handover.completeTakeOver(handover))
    if (Either.isLeft(taken)) {
      // Nothing of the old supervisor's has changed yet (the control socket's path is its own
      // until the rename, the last step): it gets the files back and serves on.
      yield* handover.setOwned(false)
      yield* report(takeover, Successor.Report.Failed({ reason: `the new supervisor failed: ${taken.left}` }))
      yield* Effect.logError(`not taking over from start_server (pid:${old}): ${taken.left}`)
      return yield* supervisor.shutdown("TERM", "control")
    }
    yield* Effect.logInfo(`start_server (pid:${process.pid}) took over from start_server (pid:${old})`)
    yield* report(takeover, Successor.Report.Committed())
    // The old supervisor exits in time (its end of the pipe closes); should this confirmation
    // have come too late, it says `abort`: it is in charge again, and its files are its own.
    if ((yield* next) === Successor.abortLine) {
      yield* handover.setOwned(false)
      yield* Effect.logError(`start_server (pid:${old}) stayed in charge (it had given up waiting); stopping`)
      yield* supervisor.shutdown("TERM", "control")
    }
  }).pipe(Effect.scoped)

/** `take`, as `StarterLive` needs it (`StarterServices.Takeover`), reading the pipe on the runtime's reader. */
export const forStarterServices = (
  libc: Libc.Service,
  readPipe: ReadPipe
): Either.Either<StarterServices.Takeover, string> | undefined => {
  const taken = take(libc)
  if (taken === undefined) return undefined
  return Either.map(taken, (takeover) => ({
    previousPid: takeover.state.pid,
    generation: takeover.state.generation,
    workers: takeover.state.workers,
    ports: takeover.state.ports,
    paths: takeover.state.paths,
    services: {
      adoptedSockets: takeover.layout.sockets,
      adoptedRemovePaths: takeover.state.removePaths,
      adoptedPidFile: takeover.layout.pidFile ?? undefined,
      adoptedControlSocket: takeover.layout.control ?? undefined,
      notifySocket: takeover.state.notifySocket
    },
    run: (supervisor, handover, version) => run(readPipe, takeover, supervisor, handover, version)
  }))
}
