/**
 * What init does for a container, and a subreaper for any tree: a process a worker leaves
 * behind (a grandchild that outlives its worker, a daemonised helper) is re-parented to
 * start_server (PR_SET_CHILD_SUBREAPER; as PID 1 it is anyway) and reaped here when it
 * exits, so it never stays a zombie.
 *
 * The runtime (Node's child_process, Bun.spawn) reaps the children it spawned itself, each
 * by its pid: a blind waitpid(-1) would take their exit statuses and the supervisor would
 * never learn how its workers ended. So the reaper peeks at exited children without reaping
 * them (WNOWAIT) and reaps only those that no spawn in this process started (`own`).
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Libc from "./Libc.js"
import { strerror } from "./SystemError.js"

/** The pids of this process's own children that the runtime has not reaped yet (process-wide). */
const spawned = new Set<number>()

/**
 * Marks `pid`, just spawned, as the runtime's to reap until `disown`. Call it right after the
 * spawn returns, for every child: before then, no SIGCHLD handler can run.
 */
export const own = (pid: number): void => void spawned.add(pid)

/** Whether `pid` is a child the runtime spawned and will reap itself. */
export const isOwned = (pid: number): boolean => spawned.has(pid)

/** The runtime has reaped `pid` (its exit was reported). */
export const disown = (pid: number): void => void spawned.delete(pid)

/** `own` for a node:child_process child (Node's, or Bun's implementation of it). */
export const ownChild = (child: {
  readonly pid?: number | undefined
  readonly once: (event: "exit", listener: () => void) => unknown
}): void => {
  const { pid } = child
  if (pid === undefined) return
  own(pid)
  child.once("exit", () => disown(pid))
}

/**
 * Reaps every exited child that is not the runtime's own; answers true when one of the
 * runtime's, not yet reaped, hides the children behind it (the kernel answers the oldest first).
 */
const reapOrphans = (libc: Libc.Service): boolean => {
  for (;;) {
    const pid = libc.peekExitedChild()
    if (pid === undefined) return false
    if (spawned.has(pid)) return true
    libc.reap(pid)
  }
}

/** The runtime reaps its own child in the same turn of the event loop that reported it; look again after. */
const retryMs = 20

/**
 * Adopts and reaps orphans while the layer lives. Only for a process whose every child is
 * spawned through `own` (the binary): another child's exit status would be taken.
 */
export const layer: Layer.Layer<never, never, Libc.Libc> = Layer.scopedDiscard(
  Effect.gen(function* () {
    const libc = yield* Libc.Libc
    const adopted = yield* Effect.try({ try: libc.setChildSubreaper, catch: (error) => error }).pipe(
      Effect.as(true),
      Effect.catchAll((error) =>
        Effect.as(Effect.logWarning(`cannot adopt orphaned processes: ${strerror(error)}`), false)
      )
    )
    if (!adopted && process.pid !== 1) return
    let retry: ReturnType<typeof setTimeout> | undefined
    const onChildExit = () => {
      if (retry !== undefined || !reapOrphans(libc)) return
      retry = setTimeout(() => {
        retry = undefined
        onChildExit()
      }, retryMs)
      retry.unref()
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("SIGCHLD", onChildExit)
        onChildExit()
      }),
      () =>
        Effect.sync(() => {
          process.off("SIGCHLD", onChildExit)
          clearTimeout(retry)
        })
    )
  })
)
