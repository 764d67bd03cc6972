/**
 * Counters and gauges folded from lifecycle events, rendered in the OpenMetrics text
 * format (for node_exporter's textfile collector, or any scraper reading the file).
 */
import type { Lifecycle } from "./Lifecycle.js"
import type { StatusSnapshot } from "./StatusSnapshot.js"

export interface Metrics {
  readonly restarts: Readonly<Record<"ready" | "failed" | "superseded", number>>
  readonly readiness: { readonly count: number; readonly sumMs: number; readonly lastMs: number }
  readonly drain: { readonly count: number; readonly sumMs: number; readonly lastMs: number }
  /** Exits keyed by `code=N` or `signal=NAME`. */
  readonly exits: Readonly<Record<string, number>>
  /** When each retired worker was signalled, to measure how long it drained. */
  readonly drainingSince: Readonly<Record<number, number>>
}

export const empty: Metrics = {
  restarts: { ready: 0, failed: 0, superseded: 0 },
  readiness: { count: 0, sumMs: 0, lastMs: 0 },
  drain: { count: 0, sumMs: 0, lastMs: 0 },
  exits: {},
  drainingSince: {}
}

const observe = (h: Metrics["readiness"], ms: number) => ({ count: h.count + 1, sumMs: h.sumMs + ms, lastMs: ms })

/** Folds one event in; `now` stamps drain starts and ends. */
export const update = (m: Metrics, event: Lifecycle, now: number): Metrics => {
  const next = m
  switch (event._tag) {
    case "WorkerReady":
      return { ...next, readiness: observe(m.readiness, event.latencyMs) }
    case "WorkerSignalled":
      return { ...next, drainingSince: { ...m.drainingSince, [event.pid]: now } }
    case "WorkerExited": {
      const key = event.status.signal !== null ? `signal=${event.status.signal}` : `code=${event.status.code ?? 0}`
      const since = m.drainingSince[event.pid]
      const { [event.pid]: _, ...drainingSince } = m.drainingSince
      return {
        ...next,
        exits: { ...m.exits, [key]: (m.exits[key] ?? 0) + 1 },
        drain: since === undefined ? m.drain : observe(m.drain, now - since),
        drainingSince
      }
    }
    case "RolloutCompleted":
      return event.epoch > 1 ? { ...next, restarts: { ...m.restarts, ready: m.restarts.ready + 1 } } : next
    case "RolloutAbandoned":
      return { ...next, restarts: { ...m.restarts, failed: m.restarts.failed + 1 } }
    case "RolloutSuperseded":
      return { ...next, restarts: { ...m.restarts, superseded: m.restarts.superseded + 1 } }
    default:
      return next
  }
}

const seconds = (ms: number) => String(ms / 1000)

/** OpenMetrics text exposition, ending with `# EOF`. */
export const render = (m: Metrics, status: StatusSnapshot): string => {
  const lines = [
    "# TYPE starter_restarts counter",
    "# HELP starter_restarts Restarts by result.",
    ...Object.entries(m.restarts).map(([result, n]) => `starter_restarts_total{result="${result}"} ${n}`),
    "# TYPE starter_generation gauge",
    "# HELP starter_generation The newest SERVER_STARTER_GENERATION.",
    `starter_generation ${status.generation}`,
    "# TYPE starter_workers_ready gauge",
    "# HELP starter_workers_ready Workers past their start, not yet retired.",
    `starter_workers_ready ${status.workers.filter((w) => w.state === "serving").length}`,
    "# TYPE starter_readiness_seconds summary",
    "# HELP starter_readiness_seconds From spawn to ready.",
    `starter_readiness_seconds_count ${m.readiness.count}`,
    `starter_readiness_seconds_sum ${seconds(m.readiness.sumMs)}`,
    "# TYPE starter_drain_seconds summary",
    "# HELP starter_drain_seconds From the stop signal to the worker's exit.",
    `starter_drain_seconds_count ${m.drain.count}`,
    `starter_drain_seconds_sum ${seconds(m.drain.sumMs)}`,
    "# TYPE starter_worker_exits counter",
    "# HELP starter_worker_exits Worker exits by exit code or signal.",
    ...Object.entries(m.exits).map(([key, n]) => {
      const [label, value] = key.split("=")
      return `starter_worker_exits_total{${label}="${value}"} ${n}`
    }),
    "# TYPE starter_crash_loop gauge",
    "# HELP starter_crash_loop 1 while respawns are backing off after repeated crashes.",
    `starter_crash_loop ${status.crashLoop ? 1 : 0}`,
    "# EOF"
  ]
  return `${lines.join("\n")}\n`
}
