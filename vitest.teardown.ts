/**
 * The suite leaves nothing running. Every process it starts inherits a marker in its
 * environment; after the last test, any marked process still alive (a supervisor or worker
 * that a test failed to stop) is listed, killed, and fails the run.
 */
import * as fs from "node:fs"

const marker = `STARTER_TEST_RUN=${process.pid}`

const leftovers = (): ReadonlyArray<string> =>
  fs.readdirSync("/proc").flatMap((name) => {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid === process.pid) return []
    try {
      if (!fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(marker)) return []
      const command = fs.readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").join(" ").trim()
      // vitest's own workers carry the marker too; they end with the run.
      return /vitest/.test(command) ? [] : [`${pid} ${command.slice(0, 160)}`]
    } catch {
      return [] // gone meanwhile, or not ours to read
    }
  })

export const setup = () => {
  process.env.STARTER_TEST_RUN = String(process.pid)
  return async () => {
    // A process killed by the last test's cleanup may take a moment to go.
    for (let tries = 0; tries < 20 && leftovers().length > 0; tries++) await new Promise((r) => setTimeout(r, 100))
    const left = leftovers()
    if (left.length === 0) return
    for (const line of left) {
      try {
        process.kill(Number(line.split(" ")[0]), "SIGKILL")
      } catch {
        // already gone
      }
    }
    throw new Error(`the suite left ${left.length} processes running (now killed):\n${left.join("\n")}`)
  }
}
