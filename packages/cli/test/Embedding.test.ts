/**
 * The program in packages/platform-node/README.md, as a user runs it: the README shows
 * fixtures/embed.ts verbatim (which `pnpm check` type-checks), and here that program runs as
 * a process of its own with real workers. It serves, restarts on HUP, and on TERM stops its
 * workers by closing the layer's scope (no `received TERM`: start_server received none).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { usage } from "../src/Usage.js"
import { bundleProgram } from "./support/Bundle.js"
import {
  fixtures,
  freePort,
  get,
  isRunning,
  nodeExecutable,
  repoRoot,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const track = trackSupervisors()

const readme = fs.readFileSync(path.join(repoRoot, "packages/platform-node/README.md"), "utf8")
const program = path.join(fixtures, "embed.ts")

// Under this package's node_modules, where the bundle finds koffi (loaded at run time).
const buildDir = path.join(repoRoot, "packages/cli/node_modules/.cache", `embed-test-${process.pid}`)
afterAll(() => fs.rmSync(buildDir, { recursive: true, force: true }))

/** The program as JavaScript that node runs, our packages from their sources (as the tests run them). */
const bundle = (): Promise<string> => bundleProgram(program, path.join(buildDir, "main.mjs"))

/** Worker pids by generation, from the lines examples/http-worker.mjs prints once serving. */
const workers = (lines: ReadonlyArray<string>, generation: number): ReadonlyArray<number> =>
  lines.flatMap((line) => {
    const match = /^\[worker (\d+) gen (\d+)\] serving/.exec(line)
    return match !== null && Number(match[2]) === generation ? [Number(match[1])] : []
  })

const atLeastTwo = <A>(items: ReadonlyArray<A>) => (items.length >= 2 ? items : undefined)

describe("packages/platform-node/README.md", () => {
  it("shows test/fixtures/embed.ts as it is", () => {
    expect(/```ts\n([\s\S]*?)```/.exec(readme)?.[1]).toBe(fs.readFileSync(program, "utf8"))
  })

  it("maps every start_server option to a StarterOptions field, or says it is the CLI's only", () => {
    const flags = [...usage.matchAll(/^ {2}--([a-z-]+)/gm)].map((match) => match[1])
    const table = readme.slice(readme.indexOf("| `start_server`"))
    expect(flags.length).toBeGreaterThan(30)
    expect(flags.filter((flag) => !table.includes(`\`--${flag}\``))).toEqual([])
  })

  it("runs the program: two workers serve, HUP rolls them over, TERM stops them", async () => {
    const port = await freePort()
    const cwd = tempDir()
    const server = path.join(repoRoot, "examples/http-worker.mjs")
    fs.writeFileSync(path.join(cwd, "server.mjs"), `import ${JSON.stringify(server)}\n`)
    const app = track(startServer([await bundle()], { bin: nodeExecutable, cwd, env: { PORT: String(port) } }))

    await app.waitForLine(/^event: RolloutCompleted$/)
    // The workers print this line themselves, on the same stderr: it may come a little later.
    const first = await waitFor("generation 1", () => atLeastTwo(workers(app.lines(), 1)))
    expect(await get(port)).toMatch(/^hello from generation 1, pid \d+\n$/)

    app.kill("SIGHUP")
    await app.waitForLine(/^restart: Ready$/, 20_000)
    const second = await waitFor("generation 2", () => atLeastTwo(workers(app.lines(), 2)))
    // Ready means the old workers were told to go: until they have exited, they may still answer.
    for (const pid of first) await app.waitForLine(new RegExp(`^old worker ${pid} died, status:0$`))
    expect(await get(port)).toMatch(/^hello from generation 2, pid \d+\n$/)

    app.kill("SIGTERM")
    expect((await app.exited).code).toBe(0)
    const lines = app.lines()
    expect(lines.filter((line) => line.startsWith("received TERM"))).toEqual([])
    const stopping = lines.flatMap((line) => {
      const match = /^the supervisor's scope is closing, sending TERM to all workers:([\d,]+)$/.exec(line)
      return match === null ? [] : [match[1]!.split(",").map(Number).sort()]
    })
    expect(stopping).toEqual([[...second].sort()])
    for (const pid of second) expect(lines).toContain(`worker ${pid} died, status:0`)
    expect(lines.at(-1)).toBe("exiting")
    expect([...first, ...second].filter(isRunning)).toEqual([])
  }, 60_000)
})
