/**
 * Embedding from any Node program, as a user does it (issue 19): the packed packages installed
 * with npm into an empty directory, the README's program compiled there with `tsc` and run
 * with real workers. A plain Node program gets `import { start } from "@starter/cli"` with no
 * Effect in its tree; an Effect 4 program gets `@starter/effect4`'s layer, against effect
 * 4.1.5 from npm. Each serves, restarts on HUP (the outcome and the status it prints), logs
 * the events, stops on TERM and then ends by itself, leaving nothing behind; a port in use
 * rejects its start with the very line `start_server` prints.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  connects,
  fixtures,
  freePort,
  get,
  isRunning,
  nodeExecutable,
  repoRoot,
  runToExit,
  runtime,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const track = trackSupervisors()

/** The effect release the Effect 4 program is tested against (`npm view effect versions`). */
const effect4 = "4.1.5"
const tsc = path.join(repoRoot, "node_modules/typescript/bin/tsc")
// Asynchronous: a long synchronous npm or tsc would block the test worker's messages to vitest.
const run = promisify(execFile)
const dir = tempDir()
let tarballs: Record<string, string> = {}

/** The ```ts block of a package's README: the program a user copies. */
const readmeProgram = (pkg: string): string => {
  const program = /```ts\n([\s\S]*?)```/.exec(
    fs.readFileSync(path.join(repoRoot, "packages", pkg, "README.md"), "utf8")
  )
  if (program === null) throw new Error(`packages/${pkg}/README.md shows no program`)
  return program[1]!
}

/** An empty npm project with `packages` installed, the README's program as main.ts and a worker as server.mjs. */
const project = async (
  name: string,
  packages: ReadonlyArray<string>,
  program: string,
  { skipLibCheck }: { readonly skipLibCheck: boolean }
): Promise<string> => {
  const cwd = path.join(dir, name)
  fs.mkdirSync(cwd)
  fs.writeFileSync(path.join(cwd, "package.json"), JSON.stringify({ name, private: true, type: "module" }))
  await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...packages], { cwd })
  fs.writeFileSync(
    path.join(cwd, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2022"],
        module: "nodenext",
        moduleResolution: "nodenext",
        strict: true,
        skipLibCheck,
        // Node's types from the repository (`process`, `console`); the program's packages from npm.
        typeRoots: [path.join(repoRoot, "node_modules/@types")],
        types: ["node"]
      },
      files: ["main.ts"]
    })
  )
  fs.writeFileSync(path.join(cwd, "main.ts"), program)
  // A worker with no dependency: neither @starter/worker nor Effect comes into the tree.
  fs.copyFileSync(path.join(fixtures, "plain-worker.mjs"), path.join(cwd, "server.mjs"))
  return cwd
}

/** `tsc` in the project; its diagnostics are the failure's message. */
const compile = async (cwd: string) => {
  try {
    await run(nodeExecutable, [tsc, "-p", cwd], { cwd })
  } catch (error) {
    const { stdout, stderr } = error as { stdout: string; stderr: string }
    throw new Error(`tsc failed:\n${stdout}${stderr}`)
  }
}

/** Every `effect` package in the project's tree, by version. */
const effectVersions = (cwd: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  const visit = (modules: string) => {
    if (!fs.existsSync(modules)) return
    for (const entry of fs.readdirSync(modules)) {
      const scoped = entry.startsWith("@")
        ? fs.readdirSync(path.join(modules, entry)).map((name) => path.join(entry, name))
        : [entry]
      for (const name of scoped) {
        const manifest = path.join(modules, name, "package.json")
        if (name === "effect" && fs.existsSync(manifest)) {
          found.push(JSON.parse(fs.readFileSync(manifest, "utf8")).version)
        }
        visit(path.join(modules, name, "node_modules"))
      }
    }
  }
  visit(path.join(cwd, "node_modules"))
  return found
}

/** The program serves with two workers, restarts on HUP, logs its events and ends by itself on TERM. */
const servesRestartsAndStops = async (cwd: string, { stopEvents }: { readonly stopEvents: boolean }) => {
  const port = await freePort()
  const program = track(startServer(["main.js"], { bin: nodeExecutable, cwd, env: { PORT: String(port) } }))
  const printed = (line: string) => program.stdout().split("\n").includes(line)
  await waitFor("the first rollout", () => (printed("event: RolloutCompleted") ? true : undefined))
  const first = await get(port)
  expect(first).toMatch(/^hello from generation 1, pid \d+\n$/)

  program.kill("SIGHUP")
  await waitFor(
    () => `the restart's outcome (stdout: ${program.stdout()})`,
    () => (printed("restart: Ready, generation 2 serves") ? true : undefined),
    20_000
  )
  expect(await get(port)).toMatch(/^hello from generation 2, /)

  program.kill("SIGTERM")
  // Nothing is left to keep it running once the supervisor has stopped: no exit() needed.
  expect(await program.exited).toEqual({ code: 0, signal: null })
  const events = new Set(program.stdout().match(/(?<=^event: )\w+$/gm))
  expect([...events].sort()).toEqual(
    [
      "RolloutStarted",
      "WorkerSpawned",
      "WorkerReady",
      "RolloutCompleted",
      "WorkerSignalled",
      "WorkerExited",
      ...(stopEvents ? ["ShutdownStarted"] : [])
    ].sort()
  )
  expect(isRunning(Number(/pid (\d+)/.exec(first)?.[1]))).toBe(false)
  expect(await connects({ host: "127.0.0.1", port })).toBe(false)
  // The supervisor's own lines on stderr, as start_server's.
  expect(
    program.lines().some((l) => l.startsWith("the supervisor's scope is closing, sending TERM to all workers:"))
  ).toBe(true)
}

/** A port in use: the program prints the line `start_server` prints for it, and nothing runs. */
const refusesABusyPort = async (cwd: string) => {
  const port = await freePort()
  const holder = net.createServer()
  await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve))
  try {
    const cli = await runToExit([`--port=127.0.0.1:${port}`, "--", nodeExecutable, "server.mjs"], {
      bin: path.join(cwd, "node_modules/.bin/start_server"),
      cwd
    })
    const line = cli.stderr.split("\n").at(-1)
    expect(line).toBe(`failed to bind to 127.0.0.1:${port}:Address already in use`)
    const refused = await runToExit(["main.js"], { bin: nodeExecutable, cwd, env: { PORT: String(port) } })
    expect({ code: refused.code, stderr: refused.stderr, stdout: refused.stdout }).toEqual({
      code: 1,
      stderr: line,
      stdout: ""
    })
  } finally {
    holder.close()
  }
}

// The library is for Node programs; the cli-bun project runs the binary's tests under Bun.
describe.skipIf(runtime === "bun")("embedding, from the packed packages installed with npm", () => {
  beforeAll(async () => {
    const packed = await run(nodeExecutable, [
      path.join(repoRoot, "scripts/pack.mjs"),
      path.join(dir, "packs"),
      "cli",
      "effect4"
    ])
    tarballs = JSON.parse(packed.stdout)
  }, 120_000)
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  describe('a plain Node program: import { start } from "@starter/cli"', () => {
    let cwd = ""
    beforeAll(async () => {
      // skipLibCheck off: the shipped declarations are checked too.
      cwd = await project("plain", [tarballs["@starter/cli"]!], readmeProgram("cli"), { skipLibCheck: false })
    }, 240_000)

    it("installs no Effect; the program compiles with tsc against the shipped types", async () => {
      expect(effectVersions(cwd)).toEqual([])
      expect(fs.readdirSync(path.join(cwd, "node_modules/@starter"))).toEqual(["cli"])
      await compile(cwd)
    }, 60_000)

    it("serves, restarts (outcome and status), reports its events, stops on TERM and ends by itself", async () => {
      await servesRestartsAndStops(cwd, { stopEvents: true })
    }, 60_000)

    it("rejects a port in use with the line start_server prints", async () => {
      await refusesABusyPort(cwd)
    }, 60_000)
  })

  describe(`an Effect 4 program: @starter/effect4's layer, against effect ${effect4}`, () => {
    let cwd = ""
    beforeAll(async () => {
      // skipLibCheck on, as `tsc --init` writes it: effect's declarations name DOM types (`Storage`).
      cwd = await project(
        "effect4",
        [tarballs["@starter/cli"]!, tarballs["@starter/effect4"]!, `effect@${effect4}`],
        readmeProgram("effect4"),
        { skipLibCheck: true }
      )
    }, 240_000)

    it(`has effect ${effect4} alone in its tree; the program compiles with tsc`, async () => {
      expect(effectVersions(cwd)).toEqual([effect4])
      await compile(cwd)
    }, 60_000)

    // Its events fiber is interrupted with the program's scope, before the layer stops the workers.
    it("serves, restarts (outcome and status), reports its events, stops on TERM and ends by itself", async () => {
      await servesRestartsAndStops(cwd, { stopEvents: false })
    }, 60_000)

    it("fails the layer on a port in use with the line start_server prints", async () => {
      await refusesABusyPort(cwd)
    }, 60_000)
  })
})
