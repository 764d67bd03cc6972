/**
 * The files start_server writes must be distinct: the status file is replaced by rename, so a
 * pid file that is also the status file loses its lock's inode at the first write, and a
 * second instance then finds it unlocked and starts beside the first.
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { fsPath } from "./ByteEnv.js"

const identity = (file: string): string => {
  const stat = fs.statSync(fsPath(file), { throwIfNoEntry: false })
  // The same file by another name (a symlink, a hard link) too, when it exists.
  return stat === undefined ? nodePath.resolve(file) : `${stat.dev}:${stat.ino}`
}

/** The first two options (`[name, path]`, unset ones skipped) naming one file, as a one-line refusal. */
export const problem = (files: ReadonlyArray<readonly [string, string | undefined]>): string | undefined => {
  const seen = new Map<string, string>()
  for (const [option, file] of files) {
    if (file === undefined) continue
    const key = identity(file)
    const other = seen.get(key)
    if (other !== undefined) return `--${other} and --${option} name the same file (${file}); give each its own`
    seen.set(key, option)
  }
  return undefined
}
