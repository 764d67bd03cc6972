/**
 * The supervisor's own signals as a queue. Installing a listener also matters for what
 * it prevents: without one, SIGUSR1 opens Node's inspector and SIGHUP kills the process.
 */
import { SignalSource } from "@starter/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"

export const layer: Layer.Layer<SignalSource.SignalSource> = Layer.scoped(
  SignalSource.SignalSource,
  Effect.gen(function* () {
    const queue = yield* Effect.acquireRelease(Queue.unbounded<SignalSource.HandledSignal>(), Queue.shutdown)
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        SignalSource.handledSignals.map((name) => {
          const listener = () => void Queue.unsafeOffer(queue, name)
          process.on(`SIG${name}`, listener)
          return [name, listener] as const
        })
      ),
      (installed) =>
        Effect.sync(() => {
          for (const [name, listener] of installed) process.off(`SIG${name}`, listener)
        })
    )
    return SignalSource.SignalSource.of({ signals: Stream.fromQueue(queue) })
  })
)
