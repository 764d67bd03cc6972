import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { normalizeSignalOption, parseSignal } from "../src/Signal.js"

const parsed = (raw: string) => Either.match(parseSignal(raw), { onLeft: (e) => `error: ${e}`, onRight: (s) => s })

describe("parseSignal (Perl's kill names and numbers)", () => {
  it("normalises as Starter.pm does: upper case, one leading SIG stripped", () => {
    expect(["usr1", "SigUsr1", "SIGUSR1", "10"].map(parsed)).toEqual(["USR1", "USR1", "USR1", "USR1"])
    expect(normalizeSignalOption("sigsigterm")).toBe("SIGTERM")
  })

  it("knows Perl's other names for the same signals", () => {
    expect(["IOT", "CLD", "POLL", "sigcld"].map(parsed)).toEqual(["ABRT", "CHLD", "IO", "CHLD"])
  })

  it("refuses what cannot stop a worker or cannot be handled, saying why", () => {
    expect(parsed("ZERO")).toBe("error: signal ZERO (0) would never stop a worker")
    expect(parsed("00")).toBe("error: signal 00 (0) would never stop a worker")
    for (const raw of ["RTMIN", "SIGRTMAX", "NUM33", "34", "64"])
      expect(parsed(raw)).toMatch(/^error: real-time signal /)
    expect(parsed("FOO")).toBe('error: Unrecognized signal name "FOO"')
    expect(parsed("65")).toBe('error: Unrecognized signal name "65"')
  })
})
