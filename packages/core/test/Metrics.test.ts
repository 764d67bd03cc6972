import { describe, expect, it } from "@effect/vitest"
import { Lifecycle, RolloutFailure } from "../src/Lifecycle.js"
import * as Metrics from "../src/Metrics.js"
import type { StatusSnapshot } from "../src/StatusSnapshot.js"

const status: StatusSnapshot = {
  version: 1,
  generation: 7,
  servingGeneration: 7,
  epoch: 3,
  state: "serving",
  workers: [
    { pid: 1, generation: 7, index: 0, state: "serving", startedAt: "", readyAt: "", restarts: 0 },
    { pid: 2, generation: 6, index: 0, state: "draining", startedAt: "", readyAt: "", restarts: 0 }
  ],
  targetWorkers: 1,
  lastRestart: {
    epoch: 3,
    reason: "hup",
    outcome: "in-progress",
    startedAt: "",
    endedAt: null,
    completedAt: null,
    failedStarts: 0,
    lastFailure: null,
    generation: null,
    supersededBy: null
  },
  recentExits: [],
  crashLoop: true
}

describe("Metrics", () => {
  it("counts restarts by result, readiness and drain times, exits by code and signal", () => {
    const events: Array<[Lifecycle, number]> = [
      [Lifecycle.RolloutCompleted({ epoch: 1, generation: 1 }), 0], // boot is not a restart
      [Lifecycle.WorkerReady({ pid: 5, generation: 2, latencyMs: 120 }), 100],
      [Lifecycle.WorkerSignalled({ pid: 4, generation: 1, signal: "TERM" }), 1000],
      [Lifecycle.WorkerExited({ pid: 4, generation: 1, status: { code: 0, signal: null } }), 1250],
      [Lifecycle.WorkerExited({ pid: 9, generation: 1, status: { code: null, signal: "KILL" } }), 1300],
      [Lifecycle.RolloutCompleted({ epoch: 2, generation: 2 }), 1300],
      [
        Lifecycle.RolloutAbandoned({
          epoch: 3,
          attempts: 3,
          failure: RolloutFailure.ReadyTimeout({ timeoutMs: 5, detail: undefined })
        }),
        2000
      ],
      [Lifecycle.RolloutSuperseded({ epoch: 4, by: 5 }), 2100]
    ]
    const metrics = events.reduce((m, [event, now]) => Metrics.update(m, event, now), Metrics.empty)
    const text = Metrics.render(metrics, status)
    expect(text).toContain('starter_restarts_total{result="ready"} 1\n')
    expect(text).toContain('starter_restarts_total{result="failed"} 1\n')
    expect(text).toContain('starter_restarts_total{result="superseded"} 1\n')
    expect(text).toContain("starter_generation 7\n")
    expect(text).toContain("starter_workers_ready 1\n")
    expect(text).toContain("starter_readiness_seconds_count 1\nstarter_readiness_seconds_sum 0.12\n")
    expect(text).toContain("starter_drain_seconds_count 1\nstarter_drain_seconds_sum 0.25\n")
    expect(text).toContain('starter_worker_exits_total{code="0"} 1\n')
    expect(text).toContain('starter_worker_exits_total{signal="KILL"} 1\n')
    expect(text).toContain("starter_crash_loop 1\n")
    expect(text.endsWith("# EOF\n")).toBe(true)
  })
})
