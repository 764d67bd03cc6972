/**
 * TERM always ends the supervisor within `--kill-timeout` plus a second, whatever else is
 * happening (issue #23): control clients that hold their sockets, a start that fails in a
 * loop. Each test starts the real binary, sends TERM while the trouble lasts and waits for
 * the exit with a bound; under Node and Bun.
 */
import * as net from "node:net"
import * as path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import { bundleProgram } from "./support/Bundle.js"
import {
  exitWithin,
  fixtures,
  freePort,
  nodeExecutable,
  runToExit,
  sleep,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const worker = path.join(fixtures, "http-worker.mjs")
const track = trackSupervisors()

/** The exit, or `undefined` when it has not come within `ms`. */

/** A raw unix client that never closes its side by itself (as a script's socket does not). */
const hold = (socketPath: string) =>
  new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ path: socketPath, allowHalfOpen: true })
    socket.once("connect", () => resolve(socket))
    socket.once("error", reject)
  })

describe("TERM always ends the supervisor", () => {
  it("after clients were refused past the control connection limit", async () => {
    const dir = tempDir()
    const control = path.join(dir, "c.sock")
    const server = track(
      startServer([`--port=127.0.0.1:${await freePort()}`, `--control-socket=${control}`, "--", nodeExecutable, worker])
    )
    await server.waitForLine(/^starting new worker \d+$/)
    const held: Array<net.Socket> = []
    onTestFinished(() => {
      for (const socket of held) socket.destroy()
    })
    for (let i = 0; i < 256; i++) held.push(await hold(control))
    // Three more, each refused (told why, or under Bun cut off: EPIPE); they go away as `status` does.
    for (let i = 0; i < 3; i++) {
      const refused = await runToExit(["status", `--control-socket=${control}`])
      expect(refused.code).not.toBe(0)
    }
    for (const socket of held.splice(0)) socket.destroy()
    await sleep(200)
    server.kill("SIGTERM")
    const exit = await exitWithin(server, 3000)
    expect(exit).toEqual({ code: 0, signal: null })
    // Closed in its own time, not cut short by the exit deadline (the backstop).
    expect(server.lines().filter((l) => l.includes("did not finish"))).toEqual([])
  }, 30_000)

  it("within --kill-timeout plus a second when a worker ignores TERM", async () => {
    const server = track(
      startServer([`--port=127.0.0.1:${await freePort()}`, "--kill-timeout=1", "--", nodeExecutable, worker], {
        env: { IGNORE_TERM: "1" }
      })
    )
    await server.waitForLine(/^starting new worker \d+$/)
    await sleep(1200)
    server.kill("SIGTERM")
    // 1 s of --kill-timeout, at most 1 s more, and slack for a loaded machine.
    const exit = await exitWithin(server, 3500)
    expect(exit).toEqual({ code: 0, signal: null })
    expect(server.lines()).toContainEqual(
      expect.stringMatching(/^worker \d+ did not exit 1 secs after being signalled, sending KILL$/)
    )
  }, 30_000)

  // A missing --dir fails every start, and is retried (it may be created): a program that
  // cannot be executed at all ends the first start instead (FailFast.test.ts).
  it("with --interval=0 and a start that always fails (a missing --dir): no spin, and TERM is acted on", async () => {
    const server = track(
      startServer([
        `--port=127.0.0.1:${await freePort()}`,
        "--interval=0",
        `--dir=${path.join(tempDir(), "nonexistent")}`,
        "--",
        "/bin/true"
      ])
    )
    await server.waitForLine(/^failed to chdir:/)
    await sleep(1000)
    // A retry at most every 100 ms or so; before the minimum backoff, thousands a second.
    const failures = server.lines().filter((l) => l.startsWith("failed to chdir:")).length
    expect(failures).toBeLessThan(30)
    server.kill("SIGTERM")
    const exit = await exitWithin(server, 2000)
    expect(exit).toEqual({ code: 0, signal: null })
    await waitFor("the exit line", () => server.lines().find((l) => l === "exiting"), 1000)
  }, 30_000)

  it("during an upgrade: the upgrade client says so and exits 12, as documented", async () => {
    const dir = tempDir()
    const control = path.join(dir, "c.sock")
    const server = track(
      startServer([
        `--port=127.0.0.1:${await freePort()}`,
        `--control-socket=${control}`,
        "--interval=2",
        "--",
        nodeExecutable,
        worker
      ])
    )
    await server.waitForLine(/^starting new worker \d+$/)
    await sleep(2500)
    const upgrade = track(startServer(["upgrade", `--control-socket=${control}`]))
    // The new supervisor is on its way (its worker's --interval takes 2 s).
    await server.waitForLine(/^upgrading: starting /)
    await sleep(300)
    server.kill("SIGTERM")
    const exit = await exitWithin(upgrade, 10_000)
    expect({ exit, last: upgrade.lines().at(-1) }).toEqual({
      exit: { code: 12, signal: null },
      last: "upgrade interrupted: start_server is stopping"
    })
    expect(await exitWithin(server, 5000)).toEqual({ code: 0, signal: null })
  }, 30_000)

  it("the exit deadline ends a teardown that never finishes, with the exit code it was given", async () => {
    const program = await bundleProgram(path.join(fixtures, "exit-deadline.ts"), path.join(tempDir(), "main.mjs"))
    const run = track(startServer([program], { bin: nodeExecutable, env: { DEADLINE_MS: "300" } }))
    const exit = await exitWithin(run, 5000)
    expect({ exit, lines: run.lines() }).toEqual({
      exit: { code: 7, signal: null },
      lines: ["shutdown did not finish within 0.3 s of the last worker's exit; exiting now"]
    })
  }, 30_000)
})
