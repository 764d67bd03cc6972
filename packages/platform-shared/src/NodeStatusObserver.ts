/**
 * `--json-status-file` (the status snapshot) and `--metrics-file` (OpenMetrics text, e.g.
 * for node_exporter's textfile collector), rewritten atomically on every lifecycle event
 * and removed when the supervisor exits; and systemd's notifications (SystemdNotify).
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Metrics, StatusObserver, type StatusSnapshot } from "@starter/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type FileIdentity, removeIfOurs, writeAtomically } from "./AtomicFile.js"
import * as Handover from "./Handover.js"
import * as Libc from "./Libc.js"
import * as SystemdNotify from "./SystemdNotify.js"
import { strerror } from "./SystemError.js"

export interface Options {
  readonly jsonStatusFile: string | undefined
  readonly metricsFile: string | undefined
  /** systemd's NOTIFY_SOCKET, when start_server runs as a Type=notify service. */
  readonly notifySocket?: string | undefined
  /**
   * Who owns the files and speaks to systemd (`start_server upgrade`): a process that does not
   * writes nothing and notifies nothing; one that comes to own them writes them and tells
   * systemd it is the service's main process now.
   */
  readonly handover?: Handover.Handover | undefined
}

/**
 * Why `path` can never be written as a status file (a directory, a missing directory, a name
 * too long for its `PATH.PID` temporary), in one line; `undefined` if it can. Checked at start,
 * so that the mistake is reported at once rather than at every event and at exit.
 */
export const pathProblem = (option: string, path: string | undefined): string | undefined => {
  if (path === undefined) return undefined
  const problem = (why: string) => `--${option}=${path}: ${why}`
  if (Buffer.byteLength(nodePath.basename(path)) + `.${process.pid}`.length > 255) {
    return problem("File name too long")
  }
  try {
    if (fs.statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) return problem("Is a directory")
    if (!fs.statSync(nodePath.dirname(path)).isDirectory()) return problem("Not a directory")
  } catch (error) {
    return problem(strerror(error))
  }
  return undefined
}

/** The identity of the file written; `undefined` if it could not be written. */
const write = (path: string, content: string): Effect.Effect<FileIdentity | undefined> =>
  Effect.try(() => writeAtomically(path, content)).pipe(
    // A full disk must not take the supervisor down: say so and keep serving.
    Effect.catchAll((e) => Effect.as(Effect.logError(`failed to write ${path}:${strerror(e.error)}`), undefined))
  )

export const layer = (options: Options): Layer.Layer<StatusObserver.StatusObserver, never, Libc.Libc> => {
  const { jsonStatusFile, metricsFile, notifySocket } = options
  const handover = options.handover ?? Handover.owner()
  if (jsonStatusFile === undefined && metricsFile === undefined && notifySocket === undefined) {
    return StatusObserver.layerNone
  }
  return Layer.scoped(
    StatusObserver.StatusObserver,
    Effect.gen(function* () {
      const libc = yield* Libc.Libc
      let metrics = Metrics.empty
      // Only files this instance wrote, and still there as it wrote them, are removed at exit:
      // never those of a running instance that this one, refused, would delete on its way out.
      const written = new Map<string, FileIdentity>()
      const writeOwn = (path: string, content: string) =>
        Effect.map(write(path, content), (identity) => {
          if (identity !== undefined) written.set(path, identity)
        })
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (!handover.owned()) return
          for (const [path, identity] of written) removeIfOurs(path, identity)
        })
      )
      let latest: StatusSnapshot.StatusSnapshot | undefined
      const writeFiles = (status: StatusSnapshot.StatusSnapshot) =>
        Effect.gen(function* () {
          if (jsonStatusFile !== undefined) yield* writeOwn(jsonStatusFile, `${JSON.stringify(status, null, 2)}\n`)
          if (metricsFile !== undefined) yield* writeOwn(metricsFile, Metrics.render(metrics, status))
        })
      // Coming to own the files (a successor at the handover): write them, and tell systemd.
      yield* Handover.whenOwned(
        handover,
        Effect.gen(function* () {
          if (latest === undefined) return
          if (notifySocket !== undefined) {
            yield* SystemdNotify.notify(libc, notifySocket, SystemdNotify.takenOver(process.pid, latest))
          }
          yield* writeFiles(latest)
        })
      )
      return StatusObserver.StatusObserver.of({
        observe: (status, event) =>
          Effect.gen(function* () {
            latest = status
            if (metricsFile !== undefined && event !== undefined) {
              metrics = Metrics.update(metrics, event, yield* Clock.currentTimeMillis)
            }
            if (!handover.owned()) return
            const message = notifySocket === undefined ? undefined : SystemdNotify.messageFor(libc, event, status)
            if (notifySocket !== undefined && message !== undefined)
              yield* SystemdNotify.notify(libc, notifySocket, message)
            yield* writeFiles(status)
          })
      })
    })
  )
}
