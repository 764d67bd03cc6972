/** `pnpm bench` runs on a tiny configuration; its figures are not asserted (a benchmark, not a test). */
import { execFile } from "node:child_process"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { repoRoot } from "./support/Harness.js"

describe("pnpm bench --tiny", () => {
  it("measures every row and leaves bench/RESULTS.md alone", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(repoRoot, "bench/run.mjs"), "--tiny"])
    const rows = stdout.split("\n").filter((l) => l.startsWith("| "))
    expect(rows.map((r) => r.split("|")[1]?.trim())).toEqual([
      "HUP → old worker exited, --interval=1",
      "HUP → old worker exited, worker ready after 100 ms (ours: --ready=notify-fd)",
      "--restart wall time",
      "supervisor RSS, 1 worker",
      "supervisor CPU over 1 s idle",
      "supervisor RSS, 16 workers",
      "supervisor CPU over 1 s idle, 16 workers",
      "`start_server --version` cold start",
      "rolling restart, --workers=1 --ready=notify-fd",
      "rolling restart, --workers=4 --ready=notify-fd"
    ])
    expect(stdout).toContain("bench/RESULTS.md left as it is")
  }, 180_000)
})
