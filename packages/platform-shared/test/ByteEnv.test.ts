import { execFileSync } from "node:child_process"
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

  it("gives arguments back their bytes from /proc/self/cmdline, leaving those it cannot match", () => {
    const cmdline = Buffer.concat([
      Buffer.from("node\0--flag\0script.js\0"),
      Buffer.from([0x63, 0x61, 0x66, 0xe9, 0]),
      Buffer.from("ok\0\0")
    ])
    // As Node decoded them: the byte 0xe9 lost as U+FFFD.
    const lossy = ["caf\ufffd", "ok", ""]
    expect(ByteEnv.withArgumentBytes(lossy, cmdline)).toEqual(["caf\udce9", "ok", ""])
    // A process title written over argv: nothing matches, nothing is changed.
    expect(ByteEnv.withArgumentBytes(["other", "ok", ""], cmdline)).toEqual(["other", "ok", ""])
    expect(ByteEnv.withArgumentBytes(lossy, undefined)).toEqual(lossy)
  })

  it("an argument that is not UTF-8 reaches the program byte for byte, trailing newlines and all", () => {
    const args = ["caf\udce9", "plain 'quoted' $HOME", "ends\n\n", ""]
    const launch = ByteEnv.spawnable(["/bin/sh", "-c", 'for a in "$@"; do printf "%s\\0" "$a"; done', "sh", ...args], {
      PATH: "/bin:/usr/bin"
    })
    const out = execFileSync(launch.argv[0], launch.argv.slice(1), { env: launch.env })
    expect(out).toEqual(Buffer.concat([...args.map((a) => ByteEnv.encode(a)).flatMap((b) => [b, Buffer.from([0])])]))
  })
})
