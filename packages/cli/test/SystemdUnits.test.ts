/**
 * examples/systemd works as written (issue 12): systemd-analyze accepts the units, their
 * timeouts fit start_server's, and the exact ExecStart and ExecReload lines (paths moved to
 * a temporary directory) run a service whose reload waits for the rollout and fails when
 * the new generation does.
 */
import { execFile, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  connects,
  freePort,
  get,
  nodeExecutable,
  repoRoot,
  runToExit,
  sleep,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const track = trackSupervisors()

const unitsDir = path.join(repoRoot, "examples/systemd")
const systemdAnalyze = "/usr/bin/systemd-analyze"
const socketActivate = "/usr/bin/systemd-socket-activate"

/** A unit file's settings as `Section.Key` → value: continuation lines joined, comments dropped. */
const readUnit = (name: string): ReadonlyMap<string, string> => {
  const settings = new Map<string, string>()
  let section = ""
  const text = fs.readFileSync(path.join(unitsDir, name), "utf8").replace(/\\\n/g, " ")
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (line === "" || line.startsWith("#")) continue
    const header = /^\[(\w+)\]$/.exec(line)
    if (header !== null) section = header[1]!
    else {
      const at = line.indexOf("=")
      settings.set(`${section}.${line.slice(0, at)}`, line.slice(at + 1).trim())
    }
  }
  return settings
}

const service = readUnit("app.service")
const setting = (key: string): string => {
  const value = service.get(key)
  if (value === undefined) throw new Error(`app.service has no ${key}`)
  return value
}

/** Seconds in a systemd time span or a start_server duration ("30", "20s", "2m"). */
const seconds = (span: string): number => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|min)?$/.exec(span)
  if (m === null) throw new Error(`not a duration: ${span}`)
  const unit = m[2] === "ms" ? 0.001 : m[2] === "m" || m[2] === "min" ? 60 : 1
  return Number(m[1]) * unit
}

const option = (command: string, name: string): string => {
  const value = new RegExp(`--${name}=(\\S+)`).exec(command)?.[1]
  if (value === undefined) throw new Error(`no --${name} in: ${command}`)
  return value
}

const run = promisify(execFile)

/** What `sudo npm install -g @starter/cli` makes in /usr/local, made in this prefix instead. */
const globalDir = tempDir()
const prefix = path.join(globalDir, "usr-local")

beforeAll(async () => {
  const packed = await run(nodeExecutable, [
    path.join(repoRoot, "scripts/pack.mjs"),
    path.join(globalDir, "packs"),
    "cli"
  ])
  const { "@starter/cli": tarball } = JSON.parse(packed.stdout) as Record<string, string>
  await run("npm", ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel=error", tarball!])
}, 240_000)
afterAll(() => fs.rmSync(globalDir, { recursive: true, force: true }))

/** The unit's /opt/app and /run/app, made in a temporary directory; the repository's node_modules. */
const installApp = () => {
  const root = tempDir()
  const app = path.join(root, "app")
  const run = path.join(root, "run")
  fs.mkdirSync(app)
  fs.mkdirSync(run)
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(app, "node_modules"))
  fs.writeFileSync(path.join(app, "package.json"), '{ "type": "module" }\n')
  // A build that crashes at start while the file `broken` exists in the working directory.
  fs.writeFileSync(
    path.join(app, "server.js"),
    `import fs from "node:fs"
if (fs.existsSync("broken")) {
  console.error("server.js: this build is broken")
  process.exit(1)
}
await import(${JSON.stringify(path.join(repoRoot, "examples/http-worker.mjs"))})
`
  )
  return { root, app, run }
}

/** A unit's command line with the paths of `installApp` and `port`, split as systemd splits it. */
const commandLine = (line: string, dirs: { app: string; run: string }, port: number) => {
  // No quotes, specifiers or variables: splitting on blanks is what systemd does with it.
  expect(line).not.toMatch(/["'%$]/)
  const [program, ...args] = line
    .replaceAll("/usr/local", prefix)
    .replaceAll("/opt/app", dirs.app)
    .replaceAll("/run/app", dirs.run)
    .replaceAll("/usr/bin/node", nodeExecutable)
    .replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`)
    .split(/\s+/)
  return { program: program!, args }
}

describe("examples/systemd", () => {
  it("sets Wants= (not Requires=) and Restart=on-failure; the timeouts fit start_server's", () => {
    expect(service.get("Unit.Wants")).toBe("app.socket")
    expect(service.has("Unit.Requires")).toBe(false)
    expect(setting("Service.Restart")).toBe("on-failure")
    const start = setting("Service.ExecStart")
    const reload = setting("Service.ExecReload")
    // systemd SIGKILLs what is left at TimeoutStopSec: start_server must have done it first.
    expect(seconds(setting("Service.TimeoutStopSec"))).toBeGreaterThanOrEqual(
      seconds(option(start, "kill-timeout")) + 5
    )
    // systemd bounds a reload by TimeoutStartSec (and restarts the service when it expires).
    expect(seconds(setting("Service.TimeoutStartSec"))).toBeGreaterThan(seconds(option(reload, "timeout")))
    expect(option(reload, "control-socket")).toBe(option(start, "control-socket"))
    expect(reload).toMatch(/start_server restart /)
  })

  it("runs the start_server that `npm install -g` installs (npm prefix -g: /usr/local), as a system user the README says how to make", () => {
    const [start] = setting("Service.ExecStart").split(/\s+/)
    const [reload] = setting("Service.ExecReload").split(/\s+/)
    expect({ start, reload }).toEqual({ start: "/usr/local/bin/start_server", reload: "/usr/local/bin/start_server" })
    // What npm made under the prefix is that path, and runs.
    const installed = path.join(prefix, "bin/start_server")
    expect(fs.realpathSync(installed)).toBe(path.join(prefix, "lib/node_modules/@starter/cli/bin/start_server.js"))
    const version = spawnSync(installed, ["--version"], { encoding: "utf8" })
    expect(version.stdout).toBe(
      `${JSON.parse(fs.readFileSync(path.join(repoRoot, "packages/cli/package.json"), "utf8")).version}\n`
    )
    const readme = fs.readFileSync(path.join(unitsDir, "README.md"), "utf8")
    expect(readme).toContain("sudo npm install -g @starter/cli")
    expect(readme).toContain("npm prefix -g")
    expect(readme).toContain(
      `sudo useradd --system --no-create-home --home-dir /opt/app --shell /usr/sbin/nologin ${setting("Service.User")}`
    )
  })

  it.skipIf(!fs.existsSync(systemdAnalyze))("systemd-analyze verify accepts the units without a warning", () => {
    const { root, app } = installApp()
    const units = path.join(root, "units")
    fs.mkdirSync(units)
    // verify checks that ExecStart's program exists: point /usr/local at the installed one.
    for (const name of ["app.service", "app.socket"]) {
      const text = fs
        .readFileSync(path.join(unitsDir, name), "utf8")
        .replaceAll("/usr/local", prefix)
        .replaceAll("/opt/app", app)
      fs.writeFileSync(path.join(units, name), text)
    }
    const result = spawnSync(systemdAnalyze, ["verify", "app.service", "app.socket"], { cwd: units, encoding: "utf8" })
    expect(result.stderr + result.stdout).toBe("")
    expect(result.status).toBe(0)
  })

  const variants = [
    { name: "binding --port itself", activate: false },
    ...(fs.existsSync(socketActivate) ? [{ name: "under socket activation", activate: true }] : [])
  ]

  it.each(variants)(
    "ExecStart and ExecReload as written, $name: a reload waits for the rollout and fails when the new build does; TERM stops it",
    async ({ activate }) => {
      const dirs = installApp()
      const port = await freePort()
      const start = commandLine(setting("Service.ExecStart"), dirs, port)
      const reload = commandLine(setting("Service.ExecReload"), dirs, port)
      const options = { cwd: dirs.app } // WorkingDirectory=/opt/app
      const server = track(
        activate
          ? startServer(["-l", `127.0.0.1:${port}`, start.program, ...start.args], { ...options, bin: socketActivate })
          : startServer(start.args, { ...options, bin: start.program })
      )
      // Socket activation starts start_server at the first connection, which waits in the backlog.
      for (let tries = 0; !(await connects({ host: "127.0.0.1", port })); tries++) {
        if (tries === 200) throw new Error(`nothing listens on ${port}`)
        await sleep(50)
      }
      expect(await get(port)).toMatch(/^hello from generation 1, pid \d+\n$/)
      const retired = () => server.lines().filter((l) => /^old worker \d+ died/.test(l)).length

      const good = await runToExit(reload.args, { ...options, bin: reload.program })
      expect(good.code).toBe(0)
      await waitFor("generation 1's exit", () => (retired() === 1 ? true : undefined))
      const second = await get(port)
      expect(second).toMatch(/^hello from generation 2, /)

      fs.writeFileSync(path.join(dirs.app, "broken"), "")
      const failed = await runToExit(reload.args, { ...options, bin: reload.program })
      expect(failed.code).toBe(10)
      expect(failed.stderr).toMatch(/^restart failed: /m)
      const serving = /pid (\d+)/.exec(second)?.[1]
      expect(server.lines()).toContain(
        `giving up the restart after 3 failed attempts; old workers keep serving:${serving}`
      )
      expect(await get(port)).toBe(second)

      fs.rmSync(path.join(dirs.app, "broken"))
      const fixed = await runToExit(reload.args, { ...options, bin: reload.program })
      expect(fixed.code).toBe(0)
      await waitFor("generation 2's exit", () => (retired() === 2 ? true : undefined))
      expect(await get(port)).not.toMatch(/^hello from generation 2, /)

      // systemctl stop with KillMode=mixed: TERM to start_server alone.
      server.kill("SIGTERM")
      expect((await server.exited).code).toBe(0)
    },
    60_000
  )
})
