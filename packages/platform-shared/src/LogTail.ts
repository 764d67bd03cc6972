/**
 * The last lines the supervisor logged, in memory, for `start_server logs`: at most
 * `maxLines` lines and `maxBytes` bytes of them, whichever bound is reached first. Followers
 * are called with each new entry as it is added.
 */
import type { Logs } from "@starter/core"

export const maxLines = 1000
export const maxBytes = 1024 * 1024

export interface LogTail {
  readonly add: (entry: Logs.LogEntry) => void
  /** The last `count` entries, oldest first. */
  readonly last: (count: number) => ReadonlyArray<Logs.LogEntry>
  /** Calls `onEntry` with every entry added from now on; answers the function that stops it. */
  readonly listen: (onEntry: (entry: Logs.LogEntry) => void) => () => void
}

export const make = (): LogTail => {
  const entries: Array<{ readonly entry: Logs.LogEntry; readonly bytes: number }> = []
  const listeners = new Set<(entry: Logs.LogEntry) => void>()
  let bytes = 0
  return {
    add: (entry) => {
      const size = Buffer.byteLength(entry.line)
      entries.push({ entry, bytes: size })
      bytes += size
      while (entries.length > maxLines || (bytes > maxBytes && entries.length > 1)) {
        bytes -= entries.shift()!.bytes
      }
      for (const listener of listeners) listener(entry)
    },
    last: (count) => (count <= 0 ? [] : entries.slice(-count).map(({ entry }) => entry)),
    listen: (onEntry) => {
      listeners.add(onEntry)
      return () => listeners.delete(onEntry)
    }
  }
}
