/**
 * A real small file system for a test: a tmpfs mounted on a fresh directory (needs root and
 * mount(2)), to be filled up (ENOSPC) or mounted read-only (EROFS).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { onTestFinished } from "vitest"
import { tempDir } from "./Harness.js"

const mount = (dir: string, options: string) =>
  execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: "pipe" })

/** Why no tmpfs can be mounted here (not root, no mount(2) in this container), or undefined. */
export const tmpfsUnavailable: string | undefined = (() => {
  const dir = tempDir()
  try {
    mount(dir, "size=4k")
    execFileSync("umount", [dir])
    return undefined
  } catch (error) {
    return `cannot mount a tmpfs here: ${String((error as { stderr?: unknown }).stderr ?? error).trim()}`
  }
})()

/** A tmpfs of `options` (e.g. `size=64k,rw`) on a fresh directory, unmounted when the test ends. */
export const mountTmpfs = (options: string): string => {
  const dir = tempDir()
  mount(dir, options)
  onTestFinished(() => void execFileSync("umount", ["-l", dir]))
  return dir
}

/** Takes every free block of the file system holding `dir`: the next write fails with ENOSPC. */
export const fill = (dir: string): string => {
  const filler = path.join(dir, "filler")
  const fd = fs.openSync(filler, "w")
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error
  } finally {
    fs.closeSync(fd)
  }
  return filler
}
