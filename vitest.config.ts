import { defineConfig } from "vitest/config"
import { projects } from "./vitest.workspace.js"

export default defineConfig({
  test: {
    projects,
    // Fails the run if a process that the suite started outlives it.
    globalSetup: ["./vitest.teardown.ts"],
    // Most integration tests wait on real time (intervals, restarts), not on the CPU: run
    // more test files at once than the 2 cores CI has.
    maxWorkers: 4,
    minWorkers: 1
  }
})
