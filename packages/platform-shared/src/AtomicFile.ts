/** Replace a file's content atomically: write `PATH.PID`, then rename over PATH. */
import * as fs from "node:fs"
import { fsPath } from "./ByteEnv.js"

/**
 * Opens `tmp` for writing as a new file, never through a symlink planted there (its target
 * would be clobbered): whatever is at `tmp` is removed first (a link, not its target), and
 * O_EXCL refuses anything that appears meanwhile.
 */
const createFresh = (tmp: string): number => {
  fs.rmSync(fsPath(tmp), { force: true })
  return fs.openSync(fsPath(tmp), "wx")
}

/** A file's identity: device and inode, which a rename keeps. */
export interface FileIdentity {
  readonly dev: number
  readonly ino: number
}

/** Writes `content` to a fresh `tmp` and answers its identity. */
export const writeTemp = (tmp: string, content: string): FileIdentity => {
  const fd = createFresh(tmp)
  try {
    fs.writeFileSync(fd, content)
    const { dev, ino } = fs.fstatSync(fd)
    return { dev, ino }
  } finally {
    fs.closeSync(fd)
  }
}

/** Writes and renames; answers the identity of the file now at `path`. */
export const writeAtomically = (path: string, content: string): FileIdentity => {
  const tmp = `${path}.${process.pid}`
  try {
    const written = writeTemp(tmp, content)
    fs.renameSync(fsPath(tmp), fsPath(path))
    return written
  } catch (error) {
    fs.rmSync(fsPath(tmp), { force: true })
    throw error
  }
}

/**
 * Removes `path` only if it is still the file this process wrote (Perl PR #32: a second
 * instance must not delete the live instance's file, and another writer may have replaced
 * ours since).
 */
export const removeIfOurs = (path: string, written: FileIdentity): void => {
  try {
    const { dev, ino } = fs.lstatSync(fsPath(path))
    if (dev === written.dev && ino === written.ino) fs.unlinkSync(fsPath(path))
  } catch {
    // already gone, or not ours to judge: leave it
  }
}
