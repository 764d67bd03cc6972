/**
 * The test projects, one per package, and `cli-bun` (the binary's suite under Bun): the design
 * card's single list. vitest >= 3.2 reads it through `test.projects` in vitest.config.ts (a
 * workspace file it loads by itself is deprecated there); nothing else lists them.
 */
export const projects = ["packages/*/vitest.config.ts", "packages/cli/vitest.bun.config.ts"]
