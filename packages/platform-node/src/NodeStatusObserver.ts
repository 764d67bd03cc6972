/**
 * `--json-status-file` (the status snapshot) and `--metrics-file` (OpenMetrics text, e.g.
 * for node_exporter's textfile collector), rewritten atomically on every lifecycle event
 * and removed when the supervisor exits; and systemd's notifications (SystemdNotify).
 */
import * as fs from "node:fs"
import { Metrics, StatusObserver } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { writeAtomically } from "./AtomicFile.js"
import * as SystemdNotify from "./SystemdNotify.js"
import { strerror } from "./SystemError.js"

export interface Options {
  readonly jsonStatusFile: string | undefined
  readonly metricsFile: string | undefined
  /** systemd's NOTIFY_SOCKET, when start_server runs as a Type=notify service. */
  readonly notifySocket?: string | undefined
}

const write = (path: string, content: string) =>
  Effect.try(() => writeAtomically(path, content)).pipe(
    // A full disk must not take the supervisor down: say so and keep serving.
    Effect.catchAll((e) => Effect.logError(`failed to write ${path}:${strerror(e.error)}`))
  )

export const layer = (options: Options): Layer.Layer<StatusObserver.StatusObserver> => {
  const { jsonStatusFile, metricsFile, notifySocket } = options
  if (jsonStatusFile === undefined && metricsFile === undefined && notifySocket === undefined) {
    return StatusObserver.layerNone
  }
  return Layer.scoped(
    StatusObserver.StatusObserver,
    Effect.gen(function* () {
      let metrics = Metrics.empty
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const path of [jsonStatusFile, metricsFile]) if (path !== undefined) fs.rmSync(path, { force: true })
        })
      )
      return StatusObserver.StatusObserver.of({
        observe: (status, event) =>
          Effect.gen(function* () {
            const message = notifySocket === undefined ? undefined : SystemdNotify.messageFor(event, status)
            if (notifySocket !== undefined && message !== undefined) yield* SystemdNotify.notify(notifySocket, message)
            if (jsonStatusFile !== undefined) yield* write(jsonStatusFile, `${JSON.stringify(status, null, 2)}\n`)
            if (metricsFile === undefined) return
            if (event !== undefined) metrics = Metrics.update(metrics, event, Date.now())
            yield* write(metricsFile, Metrics.render(metrics, status))
          })
      })
    })
  )
}
