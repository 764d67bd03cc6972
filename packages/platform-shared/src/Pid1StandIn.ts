/**
 * `start_server upgrade` when start_server is PID 1 (a container's entrypoint). The old
 * supervisor cannot exit once it has handed over: PID 1's exit ends its PID namespace, the new
 * supervisor and its workers with it. Nor does an init help (tini, dumb-init and
 * `docker run --init` exit with their child, which is the old supervisor). So the old one
 * stays, as a stand-in init: it forwards every signal an operator or the kubelet sends to
 * the supervisor in charge (its child, or, after later upgrades, the one re-parented to it),
 * reaps what is re-parented to it, and exits once no child is left.
 */
import * as fs from "node:fs"
import * as Effect from "effect/Effect"
import type * as Libc from "./Libc.js"
import * as OrphanReaper from "./OrphanReaper.js"

/** What start_server itself answers; KILL and STOP cannot be caught, CHLD is ours. */
const forwarded: ReadonlyArray<NodeJS.Signals> = [
  "SIGTERM",
  "SIGINT",
  "SIGQUIT",
  "SIGHUP",
  "SIGUSR1",
  "SIGUSR2",
  "SIGALRM",
  "SIGWINCH"
]

/** The children of `pid` (this process's), zombies included (every thread's list: a child may hang on any). */
export const children = (pid: number | "self" = "self"): ReadonlyArray<number> => {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((task) => fs.readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" "))
      .filter((word) => word !== "")
      .map(Number)
  } catch {
    return []
  }
}

/** Whether this process must stand in after handing over (it is PID 1), rather than exit. */
export const needed = (): boolean => process.pid === 1

/**
 * A stop signal that arrives while the old supervisor retires its workers after the handover:
 * the old one ignores it (it is stopping already), so the stand-in passes it on when it starts.
 * (The kubelet sends TERM once.)
 */
let pendingStop: NodeJS.Signals | undefined

/** From the handover on, remembers the last TERM, INT or QUIT for the stand-in. */
export const rememberStopSignals = (): void => {
  if (!needed()) return
  for (const signal of ["SIGTERM", "SIGINT", "SIGQUIT"] as const) {
    process.on(signal, () => {
      pendingStop = signal
    })
  }
}

/** How often the children are looked at besides SIGCHLD (one a runtime reaps sends none to us). */
const pollMs = 1000

/**
 * Stands in until no child is left; answers the exit code (0: the last supervisor stopped).
 * The runtime's own children (the new supervisor this one started) are the runtime's to reap.
 */
export const standIn = (libc: Libc.Service): Effect.Effect<number> =>
  Effect.zipRight(
    Effect.logInfo(
      "start_server (pid:1) stands in as init: it forwards signals to the new supervisor and exits after it"
    ),
    wait(libc)
  )

/** Sends `signal` to every child. */
const forward = (signal: NodeJS.Signals) => () => {
  for (const pid of children()) {
    try {
      process.kill(pid, signal)
    } catch {
      // gone meanwhile
    }
  }
}

const wait = (libc: Libc.Service): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    const forwarders = forwarded.map((signal) => {
      const listener = forward(signal)
      process.on(signal, listener)
      return [signal, listener] as const
    })
    if (pendingStop !== undefined) forward(pendingStop)()
    const check = () => {
      for (;;) {
        const pid = libc.peekExitedChild()
        if (pid === undefined || OrphanReaper.isOwned(pid)) break
        libc.reap(pid)
      }
      if (children().length > 0) return
      done()
    }
    const timer = setInterval(check, pollMs)
    process.on("SIGCHLD", check)
    const done = () => {
      clearInterval(timer)
      process.off("SIGCHLD", check)
      for (const [signal, listener] of forwarders) process.off(signal, listener)
      resume(Effect.succeed(0))
    }
    check()
  })
