/**
 * `@starter/cli` as a library: the supervisor for any Node program, with promises and plain
 * types (no Effect in the application's tree). The package's `bundle/index.d.ts` is `Api.ts`.
 */
export type * from "./Api.js"
export { StarterError, start } from "./Embedding.js"
