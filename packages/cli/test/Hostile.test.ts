/**
 * What a second instance, another user or odd bytes and files can do to a running
 * start_server (issue #23): none of it harms the running instance, and each is refused in
 * one line or passed through unchanged. Under Node and Bun.
 */
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { fixtures, getUnix, runToExit, startServer, tempDir, trackSupervisors } from "./support/Harness.js"

const worker = path.join(fixtures, "http-worker.mjs")
const track = trackSupervisors()

describe("a second instance", () => {
  it("never removes the --path socket a running start_server listens on (exit 98, the file still served)", async () => {
    const dir = tempDir()
    const socket = path.join(dir, "app.sock")
    const control = path.join(dir, "c.sock")
    const first = track(
      startServer([`--path=${socket}`, `--control-socket=${control}`, "--", process.execPath, worker])
    )
    await first.waitForLine(/^starting new worker \d+$/)
    await getUnix(socket)
    const second = await runToExit([`--path=${socket}`, `--control-socket=${control}`, "--", process.execPath, worker])
    expect({ code: second.code, last: second.stderr.split("\n").at(-1) }).toEqual({
      code: 98,
      last: `failed to listen to file ${socket}:Address already in use`
    })
    expect(second.stderr).not.toMatch(/removing existing socket file/)
    expect(await getUnix(socket)).toMatch(/generation 1/)
  }, 30_000)
})
