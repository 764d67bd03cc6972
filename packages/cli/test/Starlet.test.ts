/**
 * A real Perl worker: Plack's Starlet reads SERVER_STARTER_PORT and accepts on the
 * inherited blocking socket. It must serve, restart on HUP and stop on TERM.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  fixtures,
  freePort,
  get,
  readIfExists,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { perlMissing, plackup } from "./support/Perl.js"

const track = trackSupervisors()

describe.skipIf(perlMissing() !== undefined)("start_server with Starlet (plackup -s Starlet)", () => {
  it("serves, restarts on HUP and exits 0 on TERM", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const pidFile = path.join(dir, "pid")
    const server = startServer([
      `--port=127.0.0.1:${port}`,
      `--status-file=${status}`,
      `--pid-file=${pidFile}`,
      "--",
      plackup ?? "plackup",
      "-s",
      "Starlet",
      "--max-workers=2",
      path.join(fixtures, "app.psgi")
    ])
    track(server)
    await waitFor("generation 1 in the status file", () => (readIfExists(status)?.startsWith("1:") ? true : undefined))
    expect(await get(port)).toMatch(/^hello from generation 1, pid \d+\n$/)

    server.kill("SIGHUP")
    await waitFor("generation 2 alone", () => (/^2:\d+\n$/.test(readIfExists(status) ?? "") ? true : undefined), 15_000)
    expect(await get(port)).toMatch(/^hello from generation 2, pid \d+\n$/)

    server.kill("SIGTERM")
    expect(await server.exited).toEqual({ code: 0, signal: null })
    expect(fs.existsSync(pidFile)).toBe(false)
    expect(fs.existsSync(status)).toBe(false)
  })
})
