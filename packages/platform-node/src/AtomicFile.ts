/** Replace a file's content atomically: write `PATH.PID`, then rename over PATH. */
import * as fs from "node:fs"

export const writeAtomically = (path: string, content: string): void => {
  const tmp = `${path}.${process.pid}`
  try {
    fs.writeFileSync(tmp, content)
    fs.renameSync(tmp, path)
  } catch (error) {
    fs.rmSync(tmp, { force: true })
    throw error
  }
}
