/**
 * The binary's integration suite on every Node line the matrix proves besides the machine's own
 * (tools/node-lines): one project per line, `cli-node22`, `cli-node24`, `cli-node26`, so that a
 * failure's project names its Node. Each puts its line's directory first on PATH (the `.bin`
 * shim runs `node` from PATH, as do workers started as `node …`) and sets STARTER_NODE, which the
 * harness uses wherever a test names the Node for a worker.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { installedNodeLines } from "../../tools/node-lines/index.mjs"
import shared from "../../vitest.shared.js"

const root = path.dirname(fileURLToPath(import.meta.url))

/**
 * The binary end to end on each line: start, readiness, the control socket, Perl's behaviour,
 * daemonizing, upgrading (koffi's prebuilt binary and the bundle are loaded by every one of
 * them), the worker library (unmodified apps under its register hook included) and the examples.
 */
const files = [
  "NodeLines",
  "Lifecycle",
  "Readiness",
  "ControlSocket",
  "PerlParity",
  "Daemonize",
  "Upgrade",
  "WorkerLibrary",
  "UnmodifiedApps",
  "Examples"
]

export const nodeLineProjects = installedNodeLines().map((line) => ({
  ...shared,
  root,
  test: {
    ...shared.test,
    name: `cli-${line.name}`,
    include: files.map((file) => `test/${file}.test.ts`),
    env: {
      STARTER_NODE: line.executable,
      PATH: `${path.dirname(line.executable)}:${process.env.PATH ?? ""}`
    }
  }
}))
