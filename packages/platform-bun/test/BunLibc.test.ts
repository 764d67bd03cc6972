import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"

const here = path.dirname(fileURLToPath(import.meta.url))
const bun = path.resolve(here, "../../../node_modules/.bin/bun")

describe("BunLibc (run by bun)", () => {
  it("binds and listens, reports errno with glibc's text, passes datagrams, takes flock", () => {
    const output = execFileSync(bun, ["--conditions=@starter/source", path.join(here, "fixtures/libc-probe.ts")], {
      encoding: "utf8",
      timeout: 20_000
    })
    const result = JSON.parse(output)
    expect(result.listening).toMatchObject({ _tag: "Inet", family: 4, host: "127.0.0.1" })
    expect(result.listening.port).toBeGreaterThan(0)
    expect(result.bindError).toEqual({ errno: 98, message: "Address already in use" })
    expect(result.ipv6).toBe("::ffff:127.0.0.1")
    expect(result.notIpv6).toBe(true)
    expect(result.before).toBe(true)
    expect(result.received).toEqual({ text: "READY=1\nSTATUS=up", fds: [] })
    expect(result.locked).toBe(true)
  })
})
