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
      "HUP → new worker ready (worker ready 100 ms after start; its own time)",
      "HUP → old worker exited, worker ready after 100 ms (ours: --ready=notify-fd)",
      "of which after the worker was ready",
      "--restart wall time",
      "supervisor RSS, 1 worker, 0.3 s after start",
      "supervisor RSS, 1 worker, after 2 s idle",
      "supervisor CPU, first 1 s idle",
      "supervisor CPU, next 1 s idle",
      "supervisor RSS, 16 workers, 0.3 s after start",
      "supervisor RSS, 16 workers, after 2 s idle",
      "supervisor CPU, first 1 s idle, 16 workers",
      "supervisor CPU, next 1 s idle, 16 workers",
      "`start_server --version` cold start",
      "rolling restart, --workers=1 --ready=notify-fd",
      "rolling restart, --workers=4 --ready=notify-fd",
      "keep-alive",
      "a new connection per request"
    ])
    // Every figure is a number: nothing was skipped or failed to parse.
    expect(rows.flatMap((r) => r.split("|").slice(2, 3)).filter((cell) => !/\d/.test(cell))).toEqual([])
    expect(stdout).toContain("bench/RESULTS.md left as it is")
  }, 180_000)
})
