/**
 * `import { start } from "@starter/cli"`, the library in the bundle (EmbedInstalled.test.ts runs
 * the README's program from npm): what a refused start carries, the binary's signal handling
 * with `handleSignals`, `stopped`, `events` ending, and calls after the stop refused with a reason.
 */
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  fixtures,
  freePort,
  get,
  isRunning,
  nodeExecutable,
  runtime,
  startServer,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const track = trackSupervisors()
const program = path.join(fixtures, "embed-api.mjs")

/** Each JSON line the program printed. */
const printed = (stdout: string): ReadonlyArray<Record<string, unknown>> =>
  stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>)

describe.skipIf(runtime === "bun")('import { start } from "@starter/cli"', () => {
  it("rejects bad options with a StarterError: the one-line reason, its kind and its field; nothing runs", async () => {
    const run = track(startServer([program, "invalid"], { bin: nodeExecutable }))
    expect(await run.exited).toEqual({ code: 0, signal: null })
    expect(printed(run.stdout())).toEqual([
      {
        name: "StarterError",
        reason: "InvalidOptions",
        field: "workers",
        message: "workers: Expected a number between 1 and 1024, actual 0"
      }
    ])
  })

  it("with handleSignals: HUP restarts, TERM stops; then stopped resolves, events end, calls are refused, the program ends", async () => {
    const port = await freePort()
    const run = track(startServer([program, String(port)], { bin: nodeExecutable }))
    const events = () => printed(run.stdout()).filter((line) => line.event !== undefined)
    const completed = () => events().filter((e) => e.event === "RolloutCompleted")
    await waitFor("the first rollout", () => (completed().length === 1 ? true : undefined))
    const first = await get(port)
    expect(first).toMatch(/^hello from generation 1, /)
    run.kill("SIGHUP")
    await waitFor("the restart", () => (completed().length === 2 ? true : undefined), 20_000)
    expect(await get(port)).toMatch(/^hello from generation 2, /)
    run.kill("SIGTERM")
    expect(await run.exited).toEqual({ code: 0, signal: null })
    const lines = printed(run.stdout())
    // The events end with the supervisor's last one; `stopped` once its sockets are closed too.
    const others = lines.filter((line) => line.event === undefined)
    expect(others).toHaveLength(4)
    expect(others).toEqual(
      expect.arrayContaining([
        { stopped: true },
        { afterStop: "Stopped", message: "start_server has stopped" },
        { eventsEnded: true }
      ])
    )
    expect(others.findIndex((l) => l.stopped === true)).toBeLessThan(others.findIndex((l) => l.afterStop !== undefined))
    expect(events().find((e) => e.event === "ShutdownStarted")).toEqual({
      event: "ShutdownStarted",
      _tag: "ShutdownStarted",
      signal: "TERM"
    })
    expect(isRunning(Number(/pid (\d+)/.exec(first)?.[1]))).toBe(false)
    // log: "json": the supervisor's lines on stderr are JSON records.
    expect(
      run
        .lines()
        .filter((l) => l !== "")
        .every((l) => l.startsWith("{"))
    ).toBe(true)
  }, 60_000)
})
