import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import * as ByteEnv from "../src/ByteEnv.js"

describe("ByteEnv", () => {
  it("decodes valid UTF-8 as Node does, and escapes only the bytes that are not", () => {
    const valid = Buffer.from("héllo ✓ 😀", "utf8")
    expect(ByteEnv.decode(valid, 0, valid.length)).toBe("héllo ✓ 😀")
    const mixed = Buffer.from([0x63, 0xe9, 0xc3, 0xa9, 0xed, 0xa0, 0x80, 0xc0, 0xaf])
    // é as one byte, é as UTF-8, an encoded surrogate and an overlong '/': all but é escaped.
    expect(ByteEnv.decode(mixed, 0, mixed.length)).toBe("c\udce9é\udced\udca0\udc80\udcc0\udcaf")
    expect(ByteEnv.hasEscapes("café")).toBe(false)
  })

  it("gives back the exact bytes it read, whatever they are", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const buffer = Buffer.from(bytes)
        expect(ByteEnv.encode(ByteEnv.decode(buffer, 0, buffer.length)).equals(buffer)).toBe(true)
      }),
      { numRuns: 2000, seed: 20261201 }
    )
  })

  it("spawns through the shell only when a value needs it", () => {
    const plain = ByteEnv.spawnable(["node", "app.js"], { A: "café", PATH: "/bin" })
    expect(plain.argv).toEqual(["node", "app.js"])
    const escaped = ByteEnv.spawnable(["node", "app.js"], { A: "caf\udce9", PATH: "/bin" })
    expect(escaped.argv).toEqual([
      "/bin/sh",
      "-c",
      `A="$(printf '\\143\\141\\146\\351')"; export A; exec "$0" "$@"`,
      "node",
      "app.js"
    ])
    expect(escaped.env).toEqual({ PATH: "/bin" })
  })
})
