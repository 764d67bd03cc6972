import { describe, expect, it } from "@effect/vitest"
import * as Tunables from "../src/Tunables.js"

const read = (env: Record<string, string>) => Tunables.fromEnvironment(env)

describe("Tunables.fromEnvironment (Starter.pm L348, L376-L397)", () => {
  it("auto-restart: Perl-true switch, interval `||= 360`", () => {
    expect(read({}).autoRestart).toBeUndefined()
    expect(read({ ENABLE_AUTO_RESTART: "0" }).autoRestart).toBeUndefined()
    expect(read({ ENABLE_AUTO_RESTART: "" }).autoRestart).toBeUndefined()
    expect(read({ ENABLE_AUTO_RESTART: "yes" }).autoRestart).toEqual({ intervalMs: 360_000 })
    expect(read({ ENABLE_AUTO_RESTART: "1", AUTO_RESTART_INTERVAL: "0" }).autoRestart).toEqual({ intervalMs: 360_000 })
    expect(read({ ENABLE_AUTO_RESTART: "1", AUTO_RESTART_INTERVAL: "10abc" }).autoRestart).toEqual({
      intervalMs: 10_000
    })
  })

  it("kill-old-delay: 5 with auto-restart, 0 without, an empty value is defined (0), numified as Perl does", () => {
    expect(read({}).killOldDelayMs).toBe(0)
    expect(read({ ENABLE_AUTO_RESTART: "1" }).killOldDelayMs).toBe(5000)
    expect(read({ ENABLE_AUTO_RESTART: "1", KILL_OLD_DELAY: "" }).killOldDelayMs).toBe(0)
    expect(read({ KILL_OLD_DELAY: "5s" }).killOldDelayMs).toBe(5000)
    expect(read({ KILL_OLD_DELAY: "abc" }).killOldDelayMs).toBe(0)
    expect(read({ KILL_OLD_DELAY: "1.5" }).killOldDelayMs).toBe(1500)
  })
})
