import type { ViteUserConfig } from "vitest/config"

const config: ViteUserConfig = {
  // Workspace packages resolve to their TypeScript sources through the "@starter/source"
  // export condition; vitest's node environment resolves through vite's SSR resolver.
  ssr: { resolve: { conditions: ["@starter/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    // Effect's TestClock owns simulated time; vitest must never fake timers.
    fakeTimers: { toFake: [] },
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
}
export default config
