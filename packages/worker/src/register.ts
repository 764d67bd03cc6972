/**
 * `node --import @starter/worker/register app.js` (or `--require`): an unmodified app that
 * calls `server.listen(3000)` / `app.listen(3000)` runs under `start_server --port=3000`.
 *
 * - A listen on a port or unix path that start_server holds listens on the inherited socket
 *   (see internal/HeldSockets), with start_server's backlog; any other listen is Node's own.
 * - Readiness is reported (`ready()`, on whichever channel `--ready` offers) once every
 *   socket start_server passed has a server on it, or, when the app serves only some of them,
 *   `settleMs` after its last listen on one.
 * - SIGTERM (and the signals named in STARTER_STOP_SIGNAL, e.g. `USR1` for
 *   `--signal-on-hup=USR1`) drains those servers as `gracefulShutdown` does, then exits; so
 *   does the supervisor's death (the lifeline).
 *
 * Outside start_server (no SERVER_STARTER_PORT) it changes nothing.
 */
import * as os from "node:os"
import { type GracefulShutdown, gracefulShutdown } from "./GracefulShutdown.js"
import * as HeldSockets from "./internal/HeldSockets.js"
import * as ListenRedirect from "./internal/ListenRedirect.js"
import { defaultBacklog, streamPorts } from "./Listen.js"
import { ready } from "./Ready.js"

/** How long readiness waits for a further listen when some inherited sockets have no server yet. */
const settleMs = 200

const prefix = "@starter/worker/register:"

/** SIGTERM, and the signals STARTER_STOP_SIGNAL names (`USR1`, `SIGUSR1`, comma-separated). */
const stopSignals = (env: NodeJS.ProcessEnv): ReadonlyArray<NodeJS.Signals> => {
  const signals = new Set<NodeJS.Signals>(["SIGTERM"])
  for (const name of (env.STARTER_STOP_SIGNAL ?? "").split(",")) {
    const trimmed = name.trim().toUpperCase()
    if (trimmed === "") continue
    const signal = (trimmed.startsWith("SIG") ? trimmed : `SIG${trimmed}`) as NodeJS.Signals
    if (signal in os.constants.signals) signals.add(signal)
    else console.error(`${prefix} STARTER_STOP_SIGNAL names no signal: ${JSON.stringify(name)}`)
  }
  return [...signals]
}

const register = (env: NodeJS.ProcessEnv) => {
  const held = HeldSockets.make(streamPorts(env))
  if (held.all.length === 0) return
  // start_server's backlog when it announces one, else the app's, else start_server's default.
  const backlog = (requested: number | undefined) =>
    env.STARTER_BACKLOG === undefined && requested !== undefined ? requested : defaultBacklog(env)

  let shutdown: GracefulShutdown | undefined
  let settle: NodeJS.Timeout | undefined
  let reported = false
  const report = () => {
    if (reported) return
    reported = true
    clearTimeout(settle)
    const idle = held.unclaimed().map(({ key }) => key)
    if (idle.length > 0) console.error(`${prefix} ready, but nothing listens on ${idle.join(", ")} (from start_server)`)
    ready(env).catch((error: unknown) => console.error(`${prefix} cannot report readiness: ${String(error)}`))
  }

  ListenRedirect.install(held, {
    backlog,
    adopting: (server) => {
      if (shutdown === undefined) shutdown = gracefulShutdown(server, { signal: stopSignals(env) })
      else shutdown.add(server)
    },
    listening: () => {
      if (held.unclaimed().length === 0) return report()
      clearTimeout(settle)
      settle = setTimeout(report, settleMs).unref()
    }
  })
}

if (process.env.SERVER_STARTER_PORT !== undefined) {
  try {
    register(process.env)
  } catch (error) {
    // A SERVER_STARTER_PORT that does not parse: one line, before the app runs.
    console.error(`${prefix} ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
}
