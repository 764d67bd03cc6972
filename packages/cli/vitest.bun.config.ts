/**
 * The binary's integration suite again, with start_server running under Bun: the same test
 * files as the `cli` project (Node), so each failure's project (`cli-bun`) names its runtime.
 * A test that Bun cannot pass skips itself under Bun with the gap as its note (`skipOnBun`).
 */
import { defineProject } from "vitest/config"
import shared from "../../vitest.shared.js"

// Spread, not mergeConfig: merging would add these files to shared's include, not replace it.
export default defineProject({
  ...shared,
  test: {
    ...shared.test,
    name: "cli-bun",
    env: { STARTER_RUNTIME: "bun" },
    include: [
      "test/Lifecycle.test.ts",
      "test/Readiness.test.ts",
      "test/NeverAccepts.test.ts",
      "test/ControlSocket.test.ts",
      "test/PerlParity.test.ts",
      "test/UpstreamScenarios.test.ts",
      "test/Upgrade.test.ts",
      "test/UpgradeSockets.test.ts",
      "test/UpgradeServiceManagers.test.ts",
      "test/Daemonize.test.ts",
      "test/Container.test.ts",
      "test/Logs.test.ts",
      "test/Stopping.test.ts",
      "test/Hostile.test.ts",
      "test/FailFast.test.ts"
    ]
  }
})
