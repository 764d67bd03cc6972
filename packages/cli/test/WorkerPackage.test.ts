/**
 * `npm install @starter/worker` alone, as a user of the worker library does it: the packed
 * tarball installed with npm into an empty directory outside the workspace. What arrives is
 * counted: one package (its optional Effect peers are not installed), under 200 KB, and it
 * loads there with nothing else beside it.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { nodeExecutable, repoRoot, tempDir } from "./support/Harness.js"

const dir = tempDir()
const app = path.join(dir, "app")
const modules = path.join(app, "node_modules")

beforeAll(() => {
  const tarballs: Record<string, string> = JSON.parse(
    execFileSync(nodeExecutable, [path.join(repoRoot, "scripts/pack.mjs"), path.join(dir, "packs")], {
      encoding: "utf8"
    })
  )
  const worker = tarballs["@starter/worker"]
  if (worker === undefined) throw new Error("scripts/pack.mjs packed no @starter/worker")
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", worker], {
    cwd: app,
    stdio: ["ignore", "ignore", "inherit"]
  })
}, 240_000)

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Every package directory under `node_modules` (scoped and nested ones included), as `name`. */
const packagesIn = (root: string): ReadonlyArray<string> =>
  fs
    .readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
    .flatMap((entry) => {
      const at = path.join(root, entry.name)
      if (entry.name.startsWith("@")) return packagesIn(at).map((name) => `${entry.name}/${name}`)
      const nested = path.join(at, "node_modules")
      return [entry.name, ...(fs.existsSync(nested) ? packagesIn(nested) : [])]
    })

/** Bytes of every file under `root`. */
const bytesUnder = (root: string): number =>
  fs
    .readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce((sum, entry) => sum + fs.statSync(path.join(entry.parentPath, entry.name)).size, 0)

const runNode = (args: ReadonlyArray<string>) =>
  execFileSync(nodeExecutable, args, { cwd: app, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } })

describe("@starter/worker, packed and installed alone with npm", () => {
  it("is one package of under 200 KB, with no dependencies", () => {
    expect(packagesIn(modules)).toEqual(["@starter/worker"])
    const size = bytesUnder(modules)
    expect(size).toBeGreaterThan(10_000) // the package really arrived
    expect(size).toBeLessThan(200 * 1024)
    const manifest = JSON.parse(fs.readFileSync(path.join(modules, "@starter/worker/package.json"), "utf8"))
    expect(manifest.dependencies).toBeUndefined()
    expect(Object.values(manifest.peerDependenciesMeta ?? {})).toEqual([
      { optional: true },
      { optional: true },
      { optional: true }
    ])
  })

  it("loads with nothing beside it: the library, its protocol names and the register hook", () => {
    const script = [
      'const w = await import("@starter/worker")',
      'const p = await import("@starter/worker/Protocol")',
      'await import("@starter/worker/register")',
      "console.log([typeof w.listen, typeof w.ready, typeof w.gracefulShutdown, p.notifyFdVariable].join(' '))"
    ].join("\n")
    expect(runNode(["--input-type=module", "-e", script])).toBe("function function function STARTER_NOTIFY_FD\n")
  })

  it("leaves the Effect integration to its optional peers, and says which one is missing", () => {
    expect(() =>
      execFileSync(nodeExecutable, ["--input-type=module", "-e", 'await import("@starter/worker/StarterHttpServer")'], {
        cwd: app,
        stdio: "pipe"
      })
    ).toThrow(/Cannot find package '@effect\/platform'|Cannot find package 'effect'/)
  })
})
