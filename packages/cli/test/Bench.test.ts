/** `pnpm bench` runs on a tiny configuration; its figures are not asserted (a benchmark, not a test). */
import { execFile } from "node:child_process"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { nodeExecutable, repoRoot } from "./support/Harness.js"

describe("pnpm bench --tiny", () => {
  it("measures every row and leaves bench/RESULTS.md alone", async () => {
    const { stdout } = await promisify(execFile)(nodeExecutable, [path.join(repoRoot, "bench/run.mjs"), "--tiny"])
    const rows = stdout.split("\n").filter((l) => l.startsWith("| "))
    // The cold-start rows name the baseline's time, which varies: compare up to it.
    expect(
      rows.map((r) =>
        r
          .split("|")[1]
          ?.trim()
          .replace(/ \([\d.]+ ms\)$/, "")
      )
    ).toEqual([
      "HUP → old worker exited, --interval=1",
      "HUP → new worker ready (worker ready 100 ms after start; its own time)",
      "HUP → old worker exited, worker ready after 100 ms (ours: --ready=notify-fd)",
      "of which after the worker was ready",
      "--restart wall time",
      "probes failed while the worker is SIGKILLed every second",
      "`start_server restart` wall time (--ready=notify-fd)",
      "longest request during it",
      "requests that failed during it",
      "`start_server upgrade` wall time (a new supervisor takes over)",
      "longest request during it",
      "requests that failed during it",
      "exec → the port accepts connections",
      "exec → the first HTTP response",
      "`start_server --version`, cold start ÷ `node -e 0`",
      "`start_server --help`, cold start ÷ `node -e 0`",
      "`start_server --restart` client (to its pid-file read), cold start ÷ `node -e 0`",
      "`start_server status` client, cold start ÷ `node -e 0`",
      "RSS, 1 worker, 0.3 s after start",
      "RSS, 1 worker, 0.6 s after start",
      "RSS, 1 worker, 1 s after start",
      "VmHWM (peak RSS), 1 worker, by 1 s",
      "RSS, 16 workers, 0.3 s after start",
      "RSS, 16 workers, 0.6 s after start",
      "RSS, 16 workers, 1 s after start",
      "VmHWM (peak RSS), 16 workers, by 1 s",
      "CPU, 1 worker, idle until 0.5 s",
      "CPU, 1 worker, idle from 0.5 to 1 s",
      "CPU, 16 workers, idle until 0.5 s",
      "CPU, 16 workers, idle from 0.5 to 1 s",
      "RSS right after 5 restarts (ours --ready=notify-fd, Perl --interval=0)",
      "RSS 10 s after 5 restarts",
      "rolling restart, --workers=1 --ready=notify-fd",
      "rolling restart, --workers=4 --ready=notify-fd",
      "keep-alive",
      "a new connection per request"
    ])
    // Every figure is a number: nothing was skipped or failed to parse.
    expect(rows.flatMap((r) => r.split("|").slice(2, 3)).filter((cell) => !/\d/.test(cell))).toEqual([])
    // Every goal of the footprint table was judged.
    expect(rows.filter((r) => r.includes("≤")).every((r) => /: (met|\*\*not met\*\*) \|$/.test(r))).toBe(true)
    expect(stdout).toContain("bench/RESULTS.md left as it is")
  }, 180_000)
})
