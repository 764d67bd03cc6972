/**
 * What the state machine asks the world to do. The Supervisor interprets these
 * against the ports; simulation tests read them directly.
 */
import * as Data from "effect/Data"
import type { Event } from "./Event.js"
import type { Lifecycle } from "./Lifecycle.js"
import type { SignalName } from "./Signal.js"

export type Action = Data.TaggedEnum<{
  Spawn: { readonly id: number; readonly generation: number; readonly index: number }
  Signal: { readonly id: number; readonly signal: SignalName }
  Log: {
    readonly message: string
    /** Text logs show only the message (Perl's lines); JSON logs show the level too. */
    readonly level: LogLevel
    readonly worker: { readonly pid: number; readonly generation: number } | undefined
  }
  WriteStatus: { readonly content: string }
  /** Deliver `event` after `delayMs`; stale deliveries are ignored by the machine. */
  Schedule: { readonly delayMs: number; readonly event: Event }
  Publish: { readonly event: Lifecycle }
  Exit: { readonly code: number }
}>

export const Action = Data.taggedEnum<Action>()

export type LogLevel = "info" | "warn" | "error"
