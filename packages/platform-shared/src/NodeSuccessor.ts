/**
 * The old supervisor's side of `start_server upgrade` (core's `Successor` port): starts the
 * new supervisor as a child of this one, with the same command line and environment, and
 * hands it, as inherited descriptors, every listening socket, the control socket, the pid
 * file's locked descriptor and two pipes (see Takeover for the layout). The new one binds
 * nothing and takes no lock: at every moment some process holds each socket and the lock.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { Successor } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import * as FdSlots from "./FdSlots.js"
import * as Libc from "./Libc.js"
import * as OrphanReaper from "./OrphanReaper.js"
import { type ReadPipe, readLines } from "./PipeLines.js"
import type { SuccessorOptions } from "./StarterServices.js"
import * as SystemdNotify from "./SystemdNotify.js"
import { strerror } from "./SystemError.js"
import * as Takeover from "./Takeover.js"

/** How long an aborted successor has between TERM and KILL. */
const abortGraceMs = 10_000
/** How long after its exit a successor is reported gone even though its report pipe is still open. */
const exitReportMs = 500
/** How long a successor told `abort` after `commit` has to give its files back and stop, before TERM. */
const abortLineGraceMs = 5_000

const describeExit = (code: number | null, signal: NodeJS.Signals | null): string =>
  signal !== null ? `was killed by ${signal}` : `exited with status ${code ?? 0}`

const isExecutable = (path: string): boolean => {
  try {
    fs.accessSync(path, fs.constants.X_OK)
    return fs.statSync(path).isFile()
  } catch {
    return false
  }
}

/**
 * The command that runs `binary` with `args`. This process's own program runs on this
 * process's runtime (its path: an upgraded Node or Bun installed there is the one that
 * starts), as does any script; another executable file given with `--binary` runs itself
 * (its `#!` line picks the runtime it needs).
 */
const command = (
  binary: string,
  own: boolean,
  args: ReadonlyArray<string>
): readonly [string, ReadonlyArray<string>] =>
  !own && isExecutable(binary) ? [binary, args] : [process.execPath, [...process.execArgv, binary, ...args]]

const failure = (message: string) => (error: unknown) =>
  new Successor.SuccessorError({ message: `${message}: ${strerror(error)}` })

const launch =
  (libc: Libc.Service, readPipe: ReadPipe, options: SuccessorOptions) => (request: Successor.LaunchRequest) =>
    Effect.gen(function* () {
      // PID 1's exit ends its PID namespace, the new supervisor and its workers with it: only
      // a process that stays as a stand-in init (the binary, see Pid1StandIn) may hand over.
      if (process.pid === 1 && options.pid1StandIn !== true) {
        return yield* new Successor.SuccessorError({
          message: "start_server is PID 1 (a container's init): its exit would end the new supervisor too"
        })
      }
      const binary = request.binary ?? options.program
      yield* Effect.try({
        try: () => fs.accessSync(binary, fs.constants.R_OK),
        catch: (error) => new Successor.SuccessorError({ message: `cannot start ${binary}: ${strerror(error)}` })
      })
      // Two pipes: commands to it (the state first), reports from it. Closed here with the scope.
      const [commandsRead, commandsWrite] = yield* Effect.try({ try: libc.pipe, catch: failure("cannot make a pipe") })
      const [reportsRead, reportsWrite] = yield* Effect.try({
        try: libc.pipe,
        catch: (error) => {
          libc.close(commandsRead)
          libc.close(commandsWrite)
          return failure("cannot make a pipe")(error)
        }
      })
      const state: Takeover.State = {
        pid: process.pid,
        generation: request.state.generation,
        workers: request.state.workers,
        ports: options.ports,
        paths: options.paths,
        removePaths: options.removePaths,
        notifySocket: options.notifySocket
      }
      // A pipe's buffer takes this line whole: it never blocks.
      yield* Effect.try({
        try: () => fs.writeSync(commandsWrite, `${JSON.stringify(state)}\n`),
        catch: (error) => {
          for (const fd of [commandsRead, commandsWrite, reportsRead, reportsWrite]) libc.close(fd)
          return failure("cannot hand the state over")(error)
        }
      })
      const { handover } = options
      const inherited = [
        commandsRead,
        reportsWrite,
        ...(handover.pidFile === undefined ? [] : [handover.pidFile]),
        ...(handover.control?.fd === undefined ? [] : [handover.control.fd]),
        ...request.sockets.map((s) => s.fd)
      ]
      // Each descriptor goes to its slot (3, 4, …) in the new process.
      const placed = yield* Effect.try({
        try: () => FdSlots.placeable(libc, ["ignore", "inherit", "inherit", ...inherited] as const),
        catch: (error) => {
          for (const fd of [commandsRead, commandsWrite, reportsRead, reportsWrite]) libc.close(fd)
          return failure("cannot place the descriptors")(error)
        }
      })
      const layout = Takeover.layout({
        pidFile: handover.pidFile !== undefined,
        control: handover.control?.fd !== undefined,
        sockets: request.sockets.length
      })
      const reports = yield* Queue.unbounded<Successor.Report>()
      const [file, args] = command(binary, request.binary === undefined, options.argv)
      const { child, exit, startTime } = yield* Effect.try({
        try: () => {
          const child = spawn(file, [...args], {
            // Its own output is ours (a terminal, --log-file), as are its workers'.
            stdio: [...placed.stdio],
            env: { ...process.env, [Takeover.variable]: JSON.stringify(layout) }
          })
          OrphanReaper.ownChild(child)
          // Listened to before anything else runs: a binary that exits at once may be reported next turn.
          const exit = new Promise<string>((resolve) => {
            child.once("error", (error) => resolve(`could not be started (${error.message})`))
            child.once("exit", (code, signal) => resolve(describeExit(code, signal)))
          })
          // When it started: what it leaves behind, if it is killed, started later (see `abort`).
          const startTime = child.pid === undefined ? undefined : OrphanReaper.procStat(child.pid)?.startTime
          return { child, exit, startTime }
        },
        catch: (error) => new Successor.SuccessorError({ message: `cannot start ${binary}: ${strerror(error)}` })
      }).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            libc.close(commandsRead)
            libc.close(reportsWrite)
            placed.release()
          })
        ),
        Effect.tapError(() =>
          Effect.sync(() => {
            libc.close(commandsWrite)
            libc.close(reportsRead)
          })
        )
      )
      const exited = Effect.promise(() => exit)
      // It is gone when its end of the pipe closes (what it wrote before is read first), or at
      // the latest `exitReportMs` after its exit, should something it started hold the pipe.
      let goneReported = false
      const gone = Effect.flatMap(exited, (description) =>
        Effect.suspend(() => {
          if (goneReported) return Effect.void
          goneReported = true
          return Queue.offer(reports, Successor.Report.Exited({ description }))
        })
      )
      yield* Effect.forkScoped(Effect.zipRight(Effect.zipRight(exited, Effect.sleep(exitReportMs)), gone))
      /** A command line to it; false once it is gone. */
      const send = (line: string): boolean => {
        try {
          fs.writeSync(commandsWrite, `${line}\n`)
          return true
        } catch {
          return false // it is gone: its next report says so
        }
      }
      let committed = false
      const runFork = yield* Effect.runtime<never>().pipe(Effect.map((runtime) => Runtime.runFork(runtime)))
      const reading = readLines(
        readPipe,
        reportsRead,
        (line) => Queue.unsafeOffer(reports, Successor.parseReport(line)),
        () => runFork(gone)
      )
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          libc.close(commandsWrite)
          reading.destroy()
          // Done with it: a new supervisor in charge must not keep this process alive (an
          // embedding application exits when its event loop is empty), a failed one is gone.
          child.unref()
        })
      )
      if (options.notifySocket !== undefined)
        yield* SystemdNotify.notify(libc, options.notifySocket, SystemdNotify.reloading(libc))
      yield* Effect.logInfo(`started the new supervisor (pid:${child.pid ?? "?"}): ${[file, ...args].join(" ")}`)
      return {
        pid: child.pid ?? 0,
        next: Queue.take(reports),
        commit: Effect.sync(() => {
          committed = send(Successor.commitLine)
        }),
        hangUp: Effect.sync(() => void child.kill("SIGHUP")),
        abort: Effect.gen(function* () {
          if (options.notifySocket !== undefined)
            yield* SystemdNotify.notify(libc, options.notifySocket, SystemdNotify.upgradeFailed())
          // Told to commit, it may have taken the files: it gives them back before it stops
          // (a TERM alone would have it remove them at its exit).
          if (committed && send(Successor.abortLine)) {
            yield* Effect.timeoutOption(exited, abortLineGraceMs)
          }
          yield* stop(child, exited)
          // Killed by someone else, it left its workers running, now this process's (the
          // subreaper's) children: every process of the attempt ends with it.
          if (startTime !== undefined) yield* OrphanReaper.endLeftovers(startTime, abortGraceMs)
        })
      } satisfies Successor.SuccessorProcess
    })

/** TERM, then KILL after the grace period; waits for the exit. */
const stop = (child: ChildProcess, exited: Effect.Effect<unknown>) =>
  Effect.gen(function* () {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill("SIGTERM")
    const inTime = yield* Effect.timeoutOption(exited, abortGraceMs)
    if (inTime._tag === "Some") return
    yield* Effect.logWarning(
      `the new supervisor (pid:${child.pid}) did not stop within ${abortGraceMs / 1000} s; killing it`
    )
    child.kill("SIGKILL")
    yield* exited
  })

export const layer = (
  readPipe: ReadPipe,
  options: SuccessorOptions
): Layer.Layer<Successor.Successor, never, Libc.Libc> =>
  Layer.effect(
    Successor.Successor,
    Effect.map(Libc.Libc, (libc) =>
      Successor.Successor.of({
        launch: launch(libc, readPipe, options),
        relinquish: options.handover.setOwned(false),
        reclaim: options.handover.setOwned(true),
        closeControl: Effect.sync(() => options.handover.control?.stopAccepting())
      })
    )
  )
