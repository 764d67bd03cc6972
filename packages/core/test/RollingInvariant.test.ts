/**
 * Property tests of the rolling restart, on the pure state machine with a discrete-event
 * simulation: every `step` is checked, not only the moments a test happens to look.
 * fast-check prints the seed and the shrunk schedule of any failure.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import type { Action } from "../src/Action.js"
import { Event } from "../src/Event.js"
import * as Machine from "../src/Machine.js"
import { Readiness } from "../src/Readiness.js"
import * as SupervisorConfig from "../src/SupervisorConfig.js"

type Fault = "healthy" | "exits-early" | "never-ready"

interface Op {
  readonly at: number
  readonly kind: "hup" | "crash" | "fail-next" | "hang-next"
  readonly pick: number
}

interface Proc {
  readonly id: number
  alive: boolean
}

/** Runs the machine against simulated processes until `until`, checking `check` after every step. */
const simulate = (
  config: SupervisorConfig.SupervisorConfig,
  ops: ReadonlyArray<Op>,
  options: { readonly until: number; readonly readyMs: number; readonly exitMs: number; readonly seed: number },
  check: (state: Machine.State, now: number) => void
) => {
  let state = Machine.initial(config)
  let now = 0
  let nextPid = 100
  let rng = options.seed >>> 0
  const random = () => {
    rng = (rng * 1664525 + 1013904223) >>> 0
    return rng / 2 ** 32
  }
  const timers: Array<{ at: number; seq: number; event: Event }> = []
  let seq = 0
  const at = (time: number, event: Event) => timers.push({ at: time, seq: seq++, event })
  const procs = new Map<number, Proc>()
  const faults: Array<Fault> = []

  const perform = (action: Action): Array<Event> => {
    switch (action._tag) {
      case "Spawn": {
        const fault = faults.shift() ?? "healthy"
        procs.set(action.id, { id: action.id, alive: true })
        if (fault === "exits-early") at(now + 10, Event.Exited({ id: action.id, status: { code: 1, signal: null } }))
        if (fault === "healthy" && config.readiness._tag !== "Interval")
          at(now + options.readyMs, Event.Ready({ id: action.id }))
        return [Event.Spawned({ id: action.id, pid: nextPid++ })]
      }
      case "Signal": {
        const proc = procs.get(action.id)
        if (proc?.alive) {
          const delay = action.signal === "KILL" ? 0 : options.exitMs
          at(now + delay, Event.Exited({ id: action.id, status: { code: null, signal: action.signal } }))
        }
        return []
      }
      case "Schedule":
        at(now + action.delayMs, action.event)
        return []
      default:
        return []
    }
  }

  const apply = (first: Event) => {
    const pending = [first]
    for (let event = pending.shift(); event !== undefined; event = pending.shift()) {
      if (event._tag === "Exited") {
        const proc = procs.get(event.id)
        if (proc === undefined || !proc.alive) continue
        proc.alive = false
      }
      const result = Machine.step(state, event, { now, random: random() })
      state = result.state
      for (const action of result.actions) pending.push(...perform(action))
      check(state, now)
    }
  }

  const crash = (pick: number) => {
    const serving = state.workers.filter((w) => w.phase === "serving" && procs.get(w.id)?.alive)
    const victim = serving[pick % Math.max(1, serving.length)]
    if (victim !== undefined) apply(Event.Exited({ id: victim.id, status: { code: null, signal: "KILL" } }))
  }

  apply(Event.Boot())
  const script = [...ops].sort((a, b) => a.at - b.at)
  for (;;) {
    timers.sort((a, b) => a.at - b.at || a.seq - b.seq)
    const nextTimer = timers[0]
    const nextOp = script[0]
    if (nextOp !== undefined && (nextTimer === undefined || nextOp.at <= nextTimer.at)) {
      script.shift()
      now = Math.max(now, nextOp.at)
      if (nextOp.kind === "hup") apply(Event.RestartRequested({ reason: "hup" }))
      else if (nextOp.kind === "crash") crash(nextOp.pick)
      else faults.push(nextOp.kind === "fail-next" ? "exits-early" : "never-ready")
      continue
    }
    if (nextTimer === undefined || nextTimer.at > options.until) break
    timers.shift()
    now = nextTimer.at
    apply(nextTimer.event)
  }
  return state
}

const serving = (state: Machine.State) => state.workers.filter((w) => w.phase === "serving").length

const arbitraries = (kinds: ReadonlyArray<Op["kind"]>) =>
  fc.record({
    workers: fc.constantFrom(1, 2, 4, 8),
    surge: fc.integer({ min: 1, max: 8 }),
    readiness: fc.constantFrom("none" as const, "notify-fd" as const),
    readyMs: fc.integer({ min: 1, max: 3000 }),
    exitMs: fc.integer({ min: 0, max: 5000 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    ops: fc.array(
      fc.record({
        at: fc.integer({ min: 0, max: 60_000 }),
        kind: fc.constantFrom(...kinds),
        pick: fc.nat()
      }),
      { maxLength: 30 }
    )
  })

const configOf = (p: { workers: number; surge: number; readiness: "none" | "notify-fd" }) =>
  SupervisorConfig.make({
    argv: ["worker"],
    workers: p.workers,
    maxSurge: Math.min(p.surge, p.workers),
    readiness: p.readiness === "none" ? Readiness.Interval() : Readiness.NotifyFd(),
    readyTimeoutMs: 5000,
    killTimeoutMs: 10_000
  })

describe("rolling restarts (property)", () => {
  it("never has fewer than N ready workers once up, through HUPs and failed starts, unless one crashes", () => {
    fc.assert(
      fc.property(arbitraries(["hup", "fail-next", "hang-next"]), (p) => {
        let up = false
        simulate(
          configOf(p),
          p.ops,
          { until: 200_000, readyMs: p.readyMs, exitMs: p.exitMs, seed: p.seed },
          (state) => {
            if (state.rolledOut) up = true
            if (up) expect(serving(state)).toBeGreaterThanOrEqual(p.workers)
          }
        )
      }),
      { numRuns: 300, seed: 20261201 }
    )
  })

  it("converges on N ready workers of the newest release once the faults stop, crashes included", () => {
    fc.assert(
      fc.property(arbitraries(["hup", "crash", "fail-next", "hang-next"]), (p) => {
        const final = simulate(
          configOf(p),
          p.ops,
          { until: 600_000, readyMs: p.readyMs, exitMs: p.exitMs, seed: p.seed },
          () => {}
        )
        expect(final.rolledOut).toBe(true)
        expect(final.queuedRestart).toBeUndefined()
        expect(final.workers.map((w) => [w.phase, w.epoch])).toEqual(
          Array.from({ length: p.workers }, () => ["serving", final.epoch])
        )
      }),
      { numRuns: 300, seed: 20261201 }
    )
  })
})
