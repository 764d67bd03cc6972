/**
 * What init does for a container, and a subreaper for any tree: a process a worker leaves
 * behind (a grandchild that outlives its worker, a daemonised helper) is re-parented to
 * start_server (PR_SET_CHILD_SUBREAPER; as PID 1 it is anyway) and reaped here when it
 * exits, so it never stays a zombie.
 *
 * Node reaps the children it spawned itself, each with waitpid(its pid): a blind
 * waitpid(-1) would take their exit statuses and the supervisor would never learn how its
 * workers ended. So the reaper peeks at exited children without reaping them (WNOWAIT) and
 * reaps only those that no `spawn` in this process started.
 */
import type { ChildProcess } from "node:child_process"
import { strerror } from "@starter/platform-shared/SystemError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { libc } from "./NodeLibc.js"

/** The pids of this process's own children that Node has not reaped yet (process-wide). */
const spawned = new Set<number>()

/** Marks `child` as Node's to reap. Call it right after `spawn`, for every child. */
export const own = (child: ChildProcess): void => {
  const { pid } = child
  if (pid === undefined) return
  spawned.add(pid)
  child.once("exit", () => spawned.delete(pid))
}

/**
 * Reaps every exited child that is not Node's own; answers true when one of Node's, not yet
 * reaped, hides the children behind it (the kernel answers the oldest first).
 */
const reapOrphans = (): boolean => {
  for (;;) {
    const pid = libc.peekExitedChild()
    if (pid === undefined) return false
    if (spawned.has(pid)) return true
    libc.reap(pid)
  }
}

/** Node reaps its own child in the same turn of the event loop that reported it; look again after. */
const retryMs = 20

/**
 * Adopts and reaps orphans while the layer lives. Only for a process whose every child is
 * spawned through `own` (the binary): another child's exit status would be taken.
 */
export const layer: Layer.Layer<never> = Layer.scopedDiscard(
  Effect.gen(function* () {
    const adopted = yield* Effect.try({ try: libc.setChildSubreaper, catch: (error) => error }).pipe(
      Effect.as(true),
      Effect.catchAll((error) =>
        Effect.as(Effect.logWarning(`cannot adopt orphaned processes: ${strerror(error)}`), false)
      )
    )
    if (!adopted && process.pid !== 1) return
    let retry: NodeJS.Timeout | undefined
    const onChildExit = () => {
      if (retry !== undefined || !reapOrphans()) return
      retry = setTimeout(() => {
        retry = undefined
        onChildExit()
      }, retryMs).unref()
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
