/**
 * Whether a running start_server holds a pid file: ours and Perl's both keep an exclusive
 * flock(2) on it for their whole life. Effect-free, for the `--stop` and `--restart` clients,
 * which must start fast.
 */
import * as fs from "node:fs"
import { fsPath } from "./ByteEnv.js"
import type * as Libc from "./Libc.js"

/** True while some process holds the lock; false for a free lock or a file that cannot be opened. */
export const isLocked = (libc: Libc.Service, path: string): boolean => {
  let fd: number
  try {
    fd = fs.openSync(fsPath(path), fs.constants.O_RDONLY)
  } catch {
    return false
  }
  try {
    if (!libc.tryLockExclusive(fd)) return true
    libc.unlock(fd)
    return false
  } finally {
    fs.closeSync(fd)
  }
}
