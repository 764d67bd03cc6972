/** Kept for `@starter/platform-node/Stderr` importers; the module is @starter/platform-shared's. */
export * from "@starter/platform-shared/Stderr"
