/** `pnpm soak` runs on a tiny configuration (the full run is a benchmark, not a test). */
import { execFile } from "node:child_process"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { nodeExecutable, repoRoot } from "./support/Harness.js"
import { perlMissing } from "./support/Perl.js"

const run = promisify(execFile)

describe("pnpm soak --tiny", () => {
  it("restarts under load with 0 failed and 0 reset requests, and reports fds, RSS and zombies", async () => {
    const kinds = perlMissing() === undefined ? "node,starlet" : "node"
    const { stdout } = await run(nodeExecutable, [path.join(repoRoot, "scripts/soak.mjs"), "--tiny", `--kind=${kinds}`])
    const rows = stdout.split("\n").filter((l) => /^\| (node|starlet) \|/.test(l))
    expect(rows.length).toBe(kinds.split(",").length)
    for (const row of rows) {
      const cells = row.split("|").map((c) => c.trim())
      const [, , restarts, , requests, failed, reset] = cells
      expect(Number(restarts)).toBe(2)
      expect(Number(requests)).toBeGreaterThan(0)
      expect([failed, reset]).toEqual(["0", "0"])
      // The supervisor's fds before and after, and the zombies it left.
      expect(cells[10]).toMatch(/^\d+ → \d+$/)
      expect(cells[12]).toBe("0")
    }
  }, 120_000)
})
