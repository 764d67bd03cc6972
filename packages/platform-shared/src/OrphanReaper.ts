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
import * as fs from "node:fs"
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

/** What /proc says of a process: its parent, its process group, when it started (clock ticks since boot). */
interface ProcStat {
  readonly state: string
  readonly ppid: number
  readonly pgrp: number
  readonly startTime: number
}

/** `/proc/<pid>/stat`, or undefined once the process is gone. */
export const procStat = (pid: number): ProcStat | undefined => {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
  } catch {
    return undefined
  }
  // The command name, in parentheses, may hold spaces and parentheses: the fields follow the last one.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
  return {
    state: fields[0] ?? "",
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: Number(fields[19])
  }
}

/**
 * This process's children that no spawn here started (orphans adopted as subreaper), started
 * at `since` or later: what a child started then, and gone since, left behind.
 */
const adoptedSince = (since: number): ReadonlyArray<number> => {
  let names: ReadonlyArray<string>
  try {
    names = fs.readdirSync("/proc")
  } catch {
    return []
  }
  return names
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      if (spawned.has(pid)) return false
      const stat = procStat(pid)
      return stat !== undefined && stat.ppid === process.pid && stat.state !== "Z" && stat.startTime >= since
    })
}

const signal = (pid: number, name: NodeJS.Signals) => {
  // Still ours (an orphan not yet reaped keeps its pid): never a recycled pid's new owner.
  if (procStat(pid)?.ppid !== process.pid) return
  try {
    // A worker that leads its own process group (--signal-process-group) is stopped whole.
    if (procStat(pid)?.pgrp === pid) process.kill(-pid, name)
    else process.kill(pid, name)
  } catch {
    // gone meanwhile
  }
}

const pollMs = 50

/**
 * Stops the processes that a child (started at `since`, see `procStat`), gone now, left behind
 * and this process adopted: TERM, then KILL after `graceMs`. Answers their pids. Needs the
 * subreaper (`layer`): without it they went to init, out of reach.
 */
export const endLeftovers = (since: number, graceMs: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.gen(function* () {
    const left = adoptedSince(since)
    if (left.length === 0) return left
    yield* Effect.logWarning(
      `stopping what the failed new supervisor left running: ${left.map((pid) => `pid ${pid}`).join(", ")}`
    )
    for (const pid of left) signal(pid, "SIGTERM")
    const alive = () =>
      left.filter((pid) => {
        const stat = procStat(pid)
        return stat !== undefined && stat.ppid === process.pid && stat.state !== "Z"
      })
    for (let waited = 0; waited < graceMs && alive().length > 0; waited += pollMs) yield* Effect.sleep(pollMs)
    const stubborn = alive()
    if (stubborn.length > 0) {
      yield* Effect.logWarning(`killing ${stubborn.map((pid) => `pid ${pid}`).join(", ")}: not stopped after TERM`)
      for (const pid of stubborn) signal(pid, "SIGKILL")
    }
    return left
  })

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
