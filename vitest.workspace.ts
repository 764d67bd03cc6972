import { nodeLineProjects } from "./packages/cli/vitest.node-lines.js"

/**
 * The test projects, one per package, `cli-bun` (the binary's suite under Bun) and `cli-nodeNN`
 * (the binary's suite on each other Node line): the design card's single list. vitest >= 3.2
 * reads it through `test.projects` in vitest.config.ts (a workspace file it loads by itself is
 * deprecated there); nothing else lists them.
 */
export const projects = ["packages/*/vitest.config.ts", "packages/cli/vitest.bun.config.ts", ...nodeLineProjects]
