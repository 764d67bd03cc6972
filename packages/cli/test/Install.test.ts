/**
 * What a user gets from npm: every package packed as `npm publish` would upload it, installed
 * with npm into a directory outside the workspace, then used there: `start_server --version`,
 * a real worker on `@starter/worker` from its tarball, a restart under load, and `status`.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  freePort,
  nodeExecutable,
  readIfExists,
  repoRoot,
  runToExit,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { startLoad } from "./support/Load.js"

const track = trackSupervisors()
const dir = tempDir()
const app = path.join(dir, "app")
const bin = path.join(app, "node_modules/.bin/start_server")

beforeAll(() => {
  const tarballs: Record<string, string> = JSON.parse(
    execFileSync(nodeExecutable, [path.join(repoRoot, "scripts/pack.mjs"), path.join(dir, "packs")], {
      encoding: "utf8"
    })
  )
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  // @starter/effect4 brings Effect 4 as its peer: EmbedInstalled.test.ts installs it on its own.
  const packages = Object.entries(tarballs).flatMap(([name, file]) => (name === "@starter/effect4" ? [] : [file]))
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...packages], {
    cwd: app,
    stdio: ["ignore", "ignore", "inherit"]
  })
  // The example worker, resolving `@starter/worker` from the app's node_modules.
  fs.copyFileSync(path.join(repoRoot, "examples/http-worker.mjs"), path.join(app, "worker.mjs"))
}, 240_000)

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("the packed packages, installed with npm", () => {
  it("install the binary as a bundle with koffi as its only dependency", () => {
    const installed = fs.realpathSync(bin)
    expect(installed).toBe(path.join(app, "node_modules/@starter/cli/bin/start_server.js"))
    const manifest = JSON.parse(fs.readFileSync(path.join(app, "node_modules/@starter/cli/package.json"), "utf8"))
    expect(Object.keys(manifest.dependencies)).toEqual(["koffi"])
    expect(fs.existsSync(path.join(app, "node_modules/@starter/cli/src"))).toBe(false)
    expect(fs.existsSync(path.join(app, "node_modules/@starter/core/test"))).toBe(false)
  })

  it("answer --version", async () => {
    const { code, stdout, stderr } = await runToExit(["--version"], { bin, cwd: app })
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
    expect(stdout).toBe(
      `${JSON.parse(fs.readFileSync(path.join(repoRoot, "packages/cli/package.json"), "utf8")).version}\n`
    )
  })

  it("restart a @starter/worker worker under load without a failed request, and report status", async () => {
    const port = await freePort()
    const status = path.join(dir, "status")
    const control = path.join(dir, "control.sock")
    const server = track(
      startServer(
        [
          `--port=127.0.0.1:${port}`,
          `--status-file=${status}`,
          `--control-socket=${control}`,
          "--ready=notify-fd",
          "--",
          nodeExecutable,
          "worker.mjs"
        ],
        { bin, cwd: app }
      )
    )
    const generation = () => Number(/^(\d+):\d+\n$/.exec(readIfExists(status) ?? "")?.[1] ?? 0)
    await waitFor("generation 1", () => (generation() === 1 ? true : undefined))
    const load = startLoad(port, { clients: 4 })
    await waitFor("some requests", () => (load.ok() > 20 ? true : undefined))
    server.kill("SIGHUP")
    await waitFor("generation 2 alone", () => (generation() === 2 ? true : undefined), 20_000)
    const { ok, failed, reset, answeredBy } = await load.stop()
    expect({ failed, reset }).toEqual({ failed: [], reset: 0 })
    expect(ok).toBeGreaterThan(20)
    expect([...answeredBy].some((line) => line.startsWith("hello from generation 2"))).toBe(true)

    const shown = await runToExit(["status", `--control-socket=${control}`, "--json"], { bin, cwd: app })
    expect(shown.code).toBe(0)
    expect(JSON.parse(shown.stdout)).toMatchObject({ generation: 2, workers: [{ generation: 2, state: "serving" }] })

    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  }, 60_000)
})
