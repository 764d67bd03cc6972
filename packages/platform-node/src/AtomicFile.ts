/** Replace a file's content atomically: write `PATH.PID`, then rename over PATH. */
import * as fs from "node:fs"

/**
 * Opens `tmp` for writing as a new file, never through a symlink planted there (its target
 * would be clobbered): whatever is at `tmp` is removed first (a link, not its target), and
 * O_EXCL refuses anything that appears meanwhile.
 */
export const createFresh = (tmp: string): number => {
  fs.rmSync(tmp, { force: true })
  return fs.openSync(tmp, "wx")
}

export const writeAtomically = (path: string, content: string): void => {
  const tmp = `${path}.${process.pid}`
  try {
    const fd = createFresh(tmp)
    try {
      fs.writeFileSync(fd, content)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, path)
  } catch (error) {
    fs.rmSync(tmp, { force: true })
    throw error
  }
}
