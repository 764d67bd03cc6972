/**
 * Who owns the shared files during `start_server upgrade`: the pid file, the status files,
 * the `--path` socket files and the control socket are one supervisor's at a time. A normal
 * supervisor owns them from the start; a new one (taking over) only once the old one has
 * committed the handover, and the old one no longer from then on. A process that does not
 * own them writes none of them and removes none of them at exit.
 *
 * It also holds what a successor inherits besides the sockets: the pid file's locked
 * descriptor and the control socket's.
 */
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"

export interface Handover {
  /** Whether this process owns the shared files now (synchronous: finalizers read it). */
  readonly owned: () => boolean
  /**
   * Changes the owner; every listener has run when this completes, so that the pid file and
   * the status files are written before the old supervisor is told so.
   */
  readonly setOwned: (owned: boolean) => Effect.Effect<void>
  readonly listeners: Set<(owned: boolean) => void>
  /**
   * What a new supervisor completes once it owns the shared files, before it confirms the
   * handover (taking the control socket, which is asynchronous); each fails with the reason.
   */
  readonly takeOverSteps: Set<Effect.Effect<void, string>>
  /** The pid file's descriptor, holding its lock (set by NodePidFile). */
  pidFile: number | undefined
  /**
   * The control socket: its listening descriptor (none where the runtime bound the path
   * itself: a new supervisor then binds its own), and how to stop accepting on it.
   */
  control: { readonly fd: number | undefined; readonly stopAccepting: () => void } | undefined
}

export const make = (owned: boolean): Handover => {
  let now = owned
  const listeners = new Set<(owned: boolean) => void>()
  return {
    owned: () => now,
    setOwned: (next) =>
      Effect.sync(() => {
        if (next === now) return
        now = next
        for (const listener of [...listeners]) listener(next)
      }),
    listeners,
    takeOverSteps: new Set(),
    pidFile: undefined,
    control: undefined
  }
}

/** A process that takes over nothing: it owns its files from the start. */
export const owner = (): Handover => make(true)

/** Calls `listener` with each change of owner, until the scope closes. */
export const subscribe = (
  handover: Handover,
  listener: (owned: boolean) => void
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => void handover.listeners.add(listener)),
    () => Effect.sync(() => void handover.listeners.delete(listener))
  )

/** Adds a step to `takeOverSteps` until the scope closes. */
export const addTakeOverStep = (
  handover: Handover,
  step: Effect.Effect<void, string>
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => void handover.takeOverSteps.add(step)),
    () => Effect.sync(() => void handover.takeOverSteps.delete(step))
  )

/** Runs every take-over step (once this process owns the files); fails with the first reason. */
export const completeTakeOver = (handover: Handover): Effect.Effect<void, string> =>
  Effect.forEach([...handover.takeOverSteps], (step) => step, { discard: true })

/**
 * Runs `effect` (synchronous: files are written before `setOwned` completes) each time this
 * process comes to own the shared files, until the scope closes.
 */
export const whenOwned = (handover: Handover, effect: Effect.Effect<void>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    subscribe(handover, (owned) => {
      if (owned) Runtime.runSync(runtime)(effect)
    })
  )
