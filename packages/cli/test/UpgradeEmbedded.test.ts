/**
 * `upgrade` for applications that embed the supervisor (StarterLive's `upgrade` option): a
 * host program (fixtures/upgrade-host.ts) upgrades itself under a steady stream of requests.
 * The new host process takes the service over, its first generation continues the numbering,
 * the old host process exits once its workers have retired, and no request fails.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bundleProgram } from "./support/Bundle.js"
import {
  fixtures,
  freePort,
  generationsIn,
  get,
  isRunning,
  nodeExecutable,
  readIfExists,
  repoRoot,
  skipOnBun,
  startServer,
  statusLines,
  tempDir,
  trackPids,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { startLoad } from "./support/Load.js"

const track = trackSupervisors()

// Under this package's node_modules, where the bundle finds koffi (loaded at run time).
const buildDir = path.join(repoRoot, "packages/cli/node_modules/.cache", `upgrade-host-test-${process.pid}`)
afterAll(() => fs.rmSync(buildDir, { recursive: true, force: true }))

/** The host program as JavaScript that node runs, our packages from their sources. */
const bundle = (): Promise<string> =>
  bundleProgram(path.join(fixtures, "upgrade-host.ts"), path.join(buildDir, "host.mjs"))

/** The new host is not this process's child: each test stops the ones it made. */
const successors = trackPids()

const parentOf = (pid: number) => {
  const stat = readIfExists(`/proc/${pid}/stat`) ?? ""
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
}

describe("StarterLive's upgrade", () => {
  it("a host application upgrades itself under load: nothing refused or reset, the new process serves the next generation, the old one exits", async (ctx) => {
    skipOnBun(ctx, "the host application runs on Node")
    const dir = tempDir()
    const port = await freePort()
    const files = {
      pid: path.join(dir, "pid"),
      status: path.join(dir, "status"),
      version: path.join(dir, "version")
    }
    fs.writeFileSync(files.version, "1.0.0\n")
    const host = track(
      startServer([await bundle()], {
        bin: nodeExecutable,
        cwd: dir,
        env: {
          PORT: String(port),
          PID_FILE: files.pid,
          STATUS_FILE: files.status,
          VERSION_FILE: files.version,
          WORKER: path.join(fixtures, "upgrade-worker.mjs")
        }
      })
    )
    await waitFor("2 workers of generation 1", () =>
      statusLines(files.status).length === 2 && generationsIn(files.status).has(1) ? true : undefined
    )
    expect(readIfExists(files.pid)).toBe(`${host.pid}\n`)
    const load = startLoad(port)
    const moreRequests = (more: number) => {
      const target = load.ok() + more
      return waitFor(`${more} more requests`, () => (load.ok() >= target ? true : undefined), 20_000)
    }
    await moreRequests(50)

    // A new build is deployed; the host is told to upgrade.
    fs.writeFileSync(files.version, "2.0.0\n")
    host.kill("SIGUSR2")
    const pid = await waitFor("the new host in the pid file", () => {
      const now = Number(readIfExists(files.pid))
      return now > 0 && now !== host.pid ? now : undefined
    })
    successors.add(pid)
    // Nothing of the handover (the new host is its child) keeps the old one's event loop alive.
    expect(await waitFor("the old host to exit", () => host.child.exitCode ?? undefined, 20_000)).toBe(0)
    await moreRequests(50)
    const { failed, reset, answeredBy } = await load.stop()
    expect(failed).toEqual([])
    expect(reset).toBe(0)
    expect([...answeredBy].some((l) => l.startsWith("hello from generation 1"))).toBe(true)
    expect([...answeredBy].some((l) => l.startsWith("hello from generation 2"))).toBe(true)

    // The old host saw the upgrade complete, then its supervisor's exit; the new one runs 2.0.0.
    const lines = host.lines()
    expect(lines).toContain(`upgrade: pid ${pid} version 2.0.0 serves generation 2`)
    expect(lines).toContain(`host ${host.pid} exiting: the supervisor exited (0)`)
    expect(lines).toContain(`host ${pid} version 2.0.0 running`)
    expect(isRunning(host.pid)).toBe(false)
    // Generation 2's workers are the new host's children.
    expect(generationsIn(files.status)).toEqual(new Set([2]))
    const worker = Number(/^hello from generation 2, pid (\d+)$/m.exec(await get(port))?.[1])
    expect(parentOf(worker)).toBe(pid)

    // The new host owns the files now: TERM stops it, its workers, and removes its pid file.
    process.kill(pid, "SIGTERM")
    await waitFor("the new host to exit", () => (isRunning(pid) ? undefined : true))
    expect(isRunning(worker)).toBe(false)
    expect(fs.existsSync(files.pid)).toBe(false)
    expect(lines.filter((l) => l.startsWith("upgrade failed"))).toEqual([])
  }, 60_000)
})
