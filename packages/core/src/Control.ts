/**
 * What each control request does to the supervisor. Transport-free: a platform layer
 * reads lines from a socket and writes the replies this stream produces.
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as ControlProtocol from "./ControlProtocol.js"
import type * as ControlReplies from "./ControlReplies.js"
import type { Logs } from "./Logs.js"
import type { SignalName } from "./Signal.js"
import type { Running } from "./Starter.js"
import type { RestartOutcome } from "./Supervisor.js"
import type { UpgradeOutcome } from "./Upgrade.js"

const outcome = (o: RestartOutcome): ControlReplies.Restart => {
  switch (o._tag) {
    case "Ready":
      return { outcome: "ready", epoch: o.epoch, generation: o.generation }
    case "Failed":
      return { outcome: "failed", epoch: o.epoch, reason: o.reason }
    case "Superseded":
      return { outcome: "superseded", epoch: o.epoch, by: o.by }
    case "ShuttingDown":
      return { outcome: "stopping" }
  }
}

const upgraded = (o: UpgradeOutcome): ControlReplies.Upgrade => {
  switch (o._tag) {
    case "Completed":
      return {
        outcome: "completed",
        pid: o.pid,
        previousPid: o.previousPid,
        version: o.version,
        generation: o.generation
      }
    case "Failed":
      return { outcome: "failed", reason: o.reason }
    case "Busy":
      return { outcome: "busy", reason: o.reason }
    case "Stopping":
      return { outcome: "stopping" }
  }
}

/** What `tail -n` prints without `-n`. */
const defaultLogLines = 10

/** `logs` and `reopen-logs`, or the error that says this supervisor keeps no log. */
const withLogs = (
  logs: Option.Option<Context.Tag.Service<Logs>>,
  id: unknown,
  use: (logs: Context.Tag.Service<Logs>) => Stream.Stream<ControlProtocol.Reply>
): Stream.Stream<ControlProtocol.Reply> =>
  Option.match(logs, {
    onNone: () => Stream.make(ControlProtocol.error(id, "this start_server keeps no log (an embedded supervisor)")),
    onSome: use
  })

/**
 * The replies to one request. `closing`: the control socket is closing; a stream that does not
 * end by itself (`logs -f`) ends then, after what it holds. A subscription ends after the
 * supervisor's last event.
 */
export const handle = (
  supervisor: Running,
  request: ControlProtocol.Request,
  logs: Option.Option<Context.Tag.Service<Logs>>,
  closing: Effect.Effect<void>
): Stream.Stream<ControlProtocol.Reply> => {
  const id = request.id
  // A scale is decided at once with its doing (see `carryOut`).
  if (request.cmd === "scale") return carryOut(supervisor, request, logs, closing)
  // Carried out here, or refused saying why (and whom to ask): see Upgrade.admission.
  return Stream.unwrap(
    Effect.map(supervisor.admit(request.cmd), (admission) =>
      admission._tag === "Proceed"
        ? carryOut(supervisor, request, logs, closing)
        : Stream.make(ControlProtocol.refused(id, admission.reason, admission.successor))
    )
  )
}

const carryOut = (
  supervisor: Running,
  request: ControlProtocol.Request,
  logs: Option.Option<Context.Tag.Service<Logs>>,
  closing: Effect.Effect<void>
): Stream.Stream<ControlProtocol.Reply> => {
  const id = request.id
  const once = (effect: Effect.Effect<unknown>) =>
    Stream.fromEffect(Effect.map(effect, (result) => ControlProtocol.ok(id, result)))
  switch (request.cmd) {
    case "status":
      return once(supervisor.status)
    case "restart":
      return request.wait === false
        ? once(Effect.as(supervisor.restart("control"), { outcome: "requested" } satisfies ControlReplies.Restart))
        : once(Effect.map(supervisor.restartAndWait("control"), outcome))
    case "stop":
      return request.wait === true
        ? once(
            Effect.map(
              Effect.zipRight(supervisor.shutdown("TERM", "control"), supervisor.exitCode),
              (exitCode): ControlReplies.Stop => ({ stopped: true, exitCode })
            )
          )
        : once(Effect.as(supervisor.shutdown("TERM", "control"), { stopping: true } satisfies ControlReplies.Stop))
    case "scale":
      // Admitted and done at once: an upgrade beginning meanwhile gives its new supervisor this number.
      return Stream.fromEffect(
        Effect.map(supervisor.scaleIfAdmitted(request.workers), (admission) =>
          admission._tag === "Proceed"
            ? ControlProtocol.ok(id, { workers: request.workers } satisfies ControlReplies.Workers)
            : ControlProtocol.refused(id, admission.reason, admission.successor)
        )
      )
    case "signal":
      return once(
        Effect.map(
          supervisor.signalWorkers(request.signal as SignalName),
          (workers): ControlReplies.Workers => ({ workers })
        )
      )
    case "subscribe":
      // Subscribed before the reply says so: a request the client sends after reading it
      // (a `scale` on another connection) cannot produce events this subscription misses.
      return Stream.unwrapScoped(
        Effect.map(supervisor.subscribe, (events) =>
          Stream.concat(
            Stream.make(ControlProtocol.ok(id, { subscribed: true })),
            Stream.map(events, (e) => ControlProtocol.event(id, e))
          )
        )
      )
    case "logs": {
      const lines = request.lines ?? defaultLogLines
      return withLogs(logs, id, (l) =>
        request.follow === true
          ? Stream.unwrapScoped(
              Effect.map(l.follow(lines, closing), ({ last, next }) =>
                Stream.concat(
                  Stream.make(ControlProtocol.ok(id, { lines: last })),
                  Stream.map(next, (entry) => ControlProtocol.event(id, entry))
                )
              )
            )
          : once(Effect.map(l.last(lines), (last) => ({ lines: last })))
      )
    }
    case "upgrade":
      return once(Effect.map(supervisor.upgrade({ binary: request.binary, timeoutMs: request.timeoutMs }), upgraded))
    case "reopen-logs":
      return withLogs(logs, id, (l) =>
        Stream.fromEffect(
          Effect.match(l.reopen, {
            onFailure: (e) => ControlProtocol.error(id, e.message),
            onSuccess: (result) => ControlProtocol.ok(id, result)
          })
        )
      )
  }
}
