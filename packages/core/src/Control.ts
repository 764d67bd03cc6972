/**
 * What each control request does to the supervisor. Transport-free: a platform layer
 * reads lines from a socket and writes the replies this stream produces.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ControlProtocol from "./ControlProtocol.js"
import type { SignalName } from "./Signal.js"
import type { RestartOutcome, Supervisor } from "./Supervisor.js"

const outcome = (o: RestartOutcome) => {
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

export const handle = (
  supervisor: Supervisor,
  request: ControlProtocol.Request
): Stream.Stream<ControlProtocol.Reply> => {
  const id = request.id
  const once = (effect: Effect.Effect<unknown>) =>
    Stream.fromEffect(Effect.map(effect, (result) => ControlProtocol.ok(id, result)))
  switch (request.cmd) {
    case "status":
      return once(supervisor.status)
    case "restart":
      return request.wait === false
        ? once(Effect.as(supervisor.restart("control"), { outcome: "requested" }))
        : once(Effect.map(supervisor.restartAndWait("control"), outcome))
    case "stop":
      return once(Effect.as(supervisor.shutdown("TERM"), { stopping: true }))
    case "scale":
      return once(Effect.as(supervisor.scale(request.workers), { workers: request.workers }))
    case "signal":
      return once(Effect.map(supervisor.signalWorkers(request.signal as SignalName), (workers) => ({ workers })))
    case "subscribe":
      // Subscribed before the reply says so: a request the client sends after reading it
      // (a `scale` on another connection) cannot produce events this subscription misses.
      return Stream.unwrapScoped(
        Effect.map(supervisor.subscribe, (subscription) =>
          Stream.concat(
            Stream.make(ControlProtocol.ok(id, { subscribed: true })),
            Stream.map(Stream.fromQueue(subscription), (e) => ControlProtocol.event(id, e))
          )
        )
      )
  }
}
