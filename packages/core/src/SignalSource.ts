/**
 * Port: the signals the supervisor process receives, in arrival order. Handlers are in
 * place before the sockets are bound, so an early HUP or TERM is queued, never fatal.
 */
import * as Context from "effect/Context"
import type * as Stream from "effect/Stream"
import type { SignalName } from "./Signal.js"

/** Signals start_server acts on; the others are observed and logged. */
export const handledSignals = ["HUP", "TERM", "INT", "QUIT", "USR1", "USR2", "ALRM", "PIPE", "WINCH"] as const

export type HandledSignal = (typeof handledSignals)[number] & SignalName

export class SignalSource extends Context.Tag("@starter/core/SignalSource")<
  SignalSource,
  {
    readonly signals: Stream.Stream<HandledSignal>
  }
>() {}
