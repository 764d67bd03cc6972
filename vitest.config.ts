import { defineConfig } from "vitest/config"

// vitest >= 3.2: `test.projects` replaces vitest.workspace.ts
export default defineConfig({
  test: {
    projects: ["packages/*/vitest.config.ts"]
  }
})
