/**
 * start_server as a container's init (issue 12): it adopts what its workers leave behind
 * (child subreaper, or PID 1 of its own PID namespace) and reaps it, so no zombie stays;
 * its workers' exit statuses are still its own; TERM and INT still stop everything when it
 * is PID 1, which gets no default signal actions.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import {
  commandFor,
  ensureStopped,
  fixtures,
  freePort,
  get,
  type Running,
  readIfExists,
  repoRoot,
  runToExit,
  runtime,
  startServer,
  startServerBin,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const track = trackSupervisors()

/** The direct children of `pid` (every thread's: an adopted orphan may hang on any of them). */
const childrenOf = (pid: number): ReadonlyArray<number> => {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((task) => (readIfExists(`/proc/${pid}/task/${task}/children`) ?? "").split(" "))
      .filter((word) => word !== "")
      .map(Number)
  } catch {
    return []
  }
}

/** State (R, S, Z, …) and parent of `pid`, from /proc; undefined once it is gone (reaped). */
const stat = (pid: number): { readonly state: string; readonly ppid: number } | undefined => {
  const text = readIfExists(`/proc/${pid}/stat`)
  if (text === undefined) return undefined
  const [state, ppid] = text.slice(text.lastIndexOf(")") + 2).split(" ")
  return { state: state ?? "", ppid: Number(ppid) }
}

/** `pid` as the innermost PID namespace it belongs to numbers it (what the supervisor logs). */
const nsPid = (pid: number) => /^NSpid:.*\s(\d+)$/m.exec(readIfExists(`/proc/${pid}/status`) ?? "")?.[1]

const zombiesUnder = (pid: number) => childrenOf(pid).filter((child) => stat(child)?.state === "Z")

/** The one child of `pid`, once it has exactly one. */
const onlyChild = (what: string, pid: number, timeoutMs?: number) =>
  waitFor(
    what,
    () => {
      const children = childrenOf(pid)
      return children.length === 1 ? children[0] : undefined
    },
    timeoutMs
  )

/** SIGKILLs what a failed test left running. */
const killAtEnd = (pid: number) =>
  onTestFinished(() => {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone already
    }
  })

/**
 * Generation 1's worker starts a grandchild (`sleep 1000`) and becomes `sleep 999`: on HUP the
 * worker dies by TERM (status 15) and the grandchild outlives it.
 */
const leavesAnOrphan = [
  "--interval=0",
  "--",
  "sh",
  "-c",
  'if [ "$SERVER_STARTER_GENERATION" = 1 ]; then sleep 1000 & fi; exec sleep 999'
]

/**
 * HUPs `supervisor` (host pid), whose generation-1 worker has started a grandchild; checks
 * that the grandchild is adopted by the supervisor when the worker dies, and reaped when it
 * exits in turn.
 */
const orphanIsAdoptedAndReaped = async (server: Running, supervisor: number) => {
  // Until then the supervisor may still be the shell of the bin shim, with children of its own.
  await server.waitForLine(/^starting new worker \d+$/)
  const worker = await onlyChild("the worker", supervisor)
  const grandchild = await onlyChild("the grandchild", worker)
  killAtEnd(grandchild)
  expect(stat(grandchild)?.ppid).toBe(worker)
  process.kill(supervisor, "SIGHUP")
  // The old worker's status is still the supervisor's to report (Node reaped it, not us).
  await server.waitForLine(/^old worker \d+ died, status:15$/)
  await waitFor("the grandchild's adoption", () => (stat(grandchild)?.ppid === supervisor ? true : undefined))
  process.kill(grandchild, "SIGTERM")
  await waitFor(
    () => `the grandchild to be reaped (now ${JSON.stringify(stat(grandchild))})`,
    () => (stat(grandchild) === undefined ? true : undefined)
  )
  expect(zombiesUnder(supervisor)).toEqual([])
}

/** Whether this machine lets us run a process as PID 1 of a new PID namespace. */
const canUnshare = (() => {
  const probe = spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "--kill-child", "true"], { stdio: "ignore" })
  return probe.status === 0
})()

/** `command` (start_server and its arguments) as PID 1 of its own PID namespace, under `unshare`. */
const startAsPid1 = async (
  command: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: Record<string, string> } = {}
) => {
  // Our binary runs on the runtime under test (Bun: `bun start_server.js`).
  const [program, args] =
    command[0] === startServerBin ? commandFor(startServerBin, command.slice(1)) : [command[0]!, command.slice(1)]
  // --kill-child: if unshare dies (a failed test's cleanup), the namespace goes with it.
  const unshare = startServer(["--pid", "--fork", "--mount-proc", "--kill-child", program, ...args], {
    ...options,
    bin: "unshare"
  })
  // unshare ignores TERM while it waits, so the supervisor itself is signalled first.
  onTestFinished(async () => {
    for (const pid of childrenOf(unshare.pid)) {
      try {
        process.kill(pid, "SIGTERM")
      } catch {
        // gone already
      }
    }
    await ensureStopped(unshare)
  })
  const supervisor = await onlyChild("start_server in the namespace", unshare.pid)
  await unshare.waitForLine(/^start_server \(pid:1\) starting now\.\.\.$/)
  return { unshare, supervisor }
}

describe("orphans and PID 1", () => {
  it("adopts a grandchild that outlives its worker, and reaps it when it exits (subreaper)", async () => {
    const server = track(startServer(leavesAnOrphan))
    await orphanIsAdoptedAndReaped(server, server.pid)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })

  it("reports every worker's own exit status while orphans exit around it", async () => {
    const dir = tempDir()
    const orphans = path.join(dir, "orphans")
    // Six helpers per worker, each polling its worker: they exit right after the supervisor
    // reaps it, so orphans and worker statuses arrive together. The worker exits 7 on TERM.
    const script = `for i in 1 2 3 4 5 6; do
  sh -c 'echo $$ >> "$0"; while kill -0 "$1" 2>/dev/null; do sleep 0.02; done' "${orphans}" $$ &
done
trap 'exit 7' TERM
while :; do sleep 0.05; done`
    const server = track(startServer(["--interval=0", "--", "sh", "-c", script]))
    const helpers = () =>
      (readIfExists(orphans) ?? "")
        .split("\n")
        .filter((l) => l !== "")
        .map(Number)
    onTestFinished(() => {
      for (const pid of helpers()) {
        try {
          process.kill(pid, "SIGKILL")
        } catch {
          // gone already
        }
      }
    })
    const restarts = 4
    for (let generation = 1; generation <= restarts; generation++) {
      await waitFor(`generation ${generation}'s helpers`, () =>
        helpers().length === generation * 6 ? true : undefined
      )
      server.kill("SIGHUP")
      await waitFor(`the exit of generation ${generation}`, () =>
        server.lines().filter((l) => l.startsWith("old worker")).length === generation ? true : undefined
      )
    }
    const started = server.lines().flatMap((l) => /^starting new worker (\d+)$/.exec(l)?.[1] ?? [])
    expect(server.lines().filter((l) => l.startsWith("old worker"))).toEqual(
      started.slice(0, restarts).map((pid) => `old worker ${pid} died, status:1792`)
    )
    // Every helper of the retired generations is gone: reaped, not a zombie.
    const retired = helpers().slice(0, restarts * 6)
    await waitFor(
      () => `the retired generations' helpers to be reaped (left: ${retired.filter((p) => stat(p) !== undefined)})`,
      () => (retired.every((pid) => stat(pid) === undefined) ? true : undefined)
    )
    expect(zombiesUnder(server.pid)).toEqual([])
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
    expect(server.lines()).toContain(`worker ${started[restarts]} died, status:1792`)
    // The last generation's helpers end on their own once their worker is gone.
    await waitFor("the last helpers to end", () =>
      helpers().every((pid) => stat(pid) === undefined) ? true : undefined
    )
  })

  describe.skipIf(!canUnshare)("as PID 1 of its own PID namespace (unshare --pid --fork --mount-proc)", () => {
    it("reaps a grandchild that outlives its worker; TERM stops everything", async () => {
      const { unshare, supervisor } = await startAsPid1([startServerBin, ...leavesAnOrphan])
      await orphanIsAdoptedAndReaped(unshare, supervisor)
      const worker = await onlyChild("generation 2's worker", supervisor)
      const inNamespace = nsPid(worker)
      process.kill(supervisor, "SIGTERM")
      expect((await unshare.exited).code).toBe(0)
      expect(unshare.lines()).toContain(`received TERM, sending TERM to all workers:${inNamespace}`)
      expect(stat(worker)).toBeUndefined()
    })

    it("start_server upgrade: the old supervisor hands over and stands in as init; HUP and TERM reach the new one", async () => {
      const port = await freePort()
      const control = path.join(tempDir(), "control.sock")
      const { unshare, supervisor } = await startAsPid1([
        startServerBin,
        `--port=127.0.0.1:${port}`,
        `--control-socket=${control}`,
        "--ready=notify-fd",
        "--",
        process.execPath,
        path.join(fixtures, "http-worker.mjs")
      ])
      // A connection waits in the backlog until the worker accepts it.
      await unshare.waitForLine(/^starting new worker \d+$/)
      /** A client inside the namespace, as `kubectl exec` or `docker exec` runs one. */
      const inside = (args: ReadonlyArray<string>) => {
        const [program, programArgs] = commandFor(startServerBin, args)
        return runToExit(["--target", String(supervisor), "--pid", "--mount", "--", program, ...programArgs], {
          bin: "nsenter"
        })
      }
      const status = async () => {
        const shown = await inside(["status", `--control-socket=${control}`, "--json"])
        return JSON.parse(shown.stdout) as { servingGeneration: number; supervisor: { pid: number } }
      }
      expect(await get(port)).toMatch(/^hello from generation 1, /)

      const upgraded = await inside(["upgrade", `--control-socket=${control}`])
      expect({ code: upgraded.code, stderr: upgraded.stderr }).toEqual({ code: 0, stderr: "" })
      expect(upgraded.stdout).toMatch(
        /^upgrade: start_server \S+ \(pid \d+\) serves generation 2; start_server \(pid 1\) has retired its workers and stands in as init\n$/
      )
      expect(await get(port)).toMatch(/^hello from generation 2, /)
      await unshare.waitForLine(
        /^start_server \(pid:1\) stands in as init: it forwards signals to the new supervisor and exits after it$/
      )
      // PID 1 is still the first supervisor; its one child is the new one, which answers.
      const successor = await onlyChild("the new supervisor", supervisor)
      expect((await status()).supervisor.pid).toBe(Number(nsPid(successor)))

      // The kubelet's or an operator's signals go to PID 1: it forwards them.
      process.kill(supervisor, "SIGHUP")
      await unshare.waitForLine(/^received HUP, spawning a new worker$/)
      await unshare.waitForLine(/^old worker \d+ died, status:0$/, 20_000)
      expect((await status()).servingGeneration).toBe(3)
      process.kill(supervisor, "SIGTERM")
      expect((await unshare.exited).code).toBe(0)
      expect(stat(successor)).toBeUndefined()
    }, 60_000)

    it("INT stops everything", async () => {
      const { unshare, supervisor } = await startAsPid1([startServerBin, "--", "sleep", "999"])
      await unshare.waitForLine(/^starting new worker \d+$/)
      const worker = await onlyChild("the worker", supervisor)
      process.kill(supervisor, "SIGINT")
      expect((await unshare.exited).code).toBe(0)
      expect(unshare.lines().some((l) => /^received INT, sending TERM to all workers:\d+$/.test(l))).toBe(true)
      expect(stat(worker)).toBeUndefined()
    })
  })
})

// ---------------------------------------------------------------------------------------
// examples/container and examples/kubernetes, run as written (paths moved to a temporary
// directory, port 8080 to a free one on 127.0.0.1)

const dockerfile = fs.readFileSync(path.join(repoRoot, "examples/container/Dockerfile"), "utf8")

/** The argv of the last exec-form `name` instruction: the runtime stage's. */
const instruction = (name: string): ReadonlyArray<string> => {
  const line = dockerfile
    .split("\n")
    .filter((l) => l.startsWith(`${name} `))
    .at(-1)
  if (line === undefined) throw new Error(`the Dockerfile has no ${name}`)
  return JSON.parse(line.slice(name.length + 1)) as ReadonlyArray<string>
}

interface Probe {
  readonly exec: { readonly command: ReadonlyArray<string> }
}
interface PodSpec {
  readonly terminationGracePeriodSeconds: number
  readonly containers: ReadonlyArray<{
    readonly readinessProbe: Probe
    readonly livenessProbe: Probe
    readonly lifecycle: { readonly preStop: Probe }
  }>
}

const hasPyYaml = spawnSync("python3", ["-c", "import yaml"]).status === 0

/** examples/kubernetes/deployment.yaml's pod, read by PyYAML. */
const podSpec = (): PodSpec =>
  (
    JSON.parse(
      execFileSync(
        "python3",
        ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", "deployment.yaml"],
        { cwd: path.join(repoRoot, "examples/kubernetes"), encoding: "utf8" }
      )
    ) as { spec: { template: { spec: PodSpec } } }
  ).spec.template.spec

/**
 * The image's /app (start_server and @starter/worker in node_modules, the example worker as
 * server.mjs, as the Dockerfile copies it) and /run/app, in a temporary directory.
 */
const installImage = async () => {
  const root = tempDir()
  const app = path.join(root, "app")
  const run = path.join(root, "run")
  const modules = path.join(app, "node_modules")
  fs.mkdirSync(path.join(modules, ".bin"), { recursive: true })
  fs.mkdirSync(path.join(modules, "@starter"))
  fs.mkdirSync(run)
  fs.symlinkSync(startServerBin, path.join(modules, ".bin/start_server"))
  fs.symlinkSync(path.join(repoRoot, "node_modules/@starter/cli"), path.join(modules, "@starter/cli"))
  fs.symlinkSync(path.join(repoRoot, "packages/worker"), path.join(modules, "@starter/worker"))
  expect(dockerfile).toContain("COPY examples/http-worker.mjs server.mjs")
  fs.copyFileSync(path.join(repoRoot, "examples/http-worker.mjs"), path.join(app, "server.mjs"))
  const port = await freePort()
  /** A command of the image or the manifest, with the directories and the port moved. */
  const moved = (words: ReadonlyArray<string>) =>
    words.map((word) =>
      word.replaceAll("/run/app", run).replaceAll("/app/", `${app}/`).replaceAll("0.0.0.0:8080", `127.0.0.1:${port}`)
    )
  // The image's ENV: PATH finds start_server in /app/node_modules/.bin.
  const env = { PATH: `${modules}/.bin:${process.env.PATH}` }
  /** Runs a probe's or a user's command to its exit status. */
  const exitCode = (command: ReadonlyArray<string>) => {
    const [program, ...args] = moved(command)
    return spawnSync(program!, args, { cwd: app, env: { ...process.env, ...env }, stdio: "ignore" }).status
  }
  /** The container's process: ENTRYPOINT + CMD (or `cmd`, as `docker run IMAGE cmd…` gives it). */
  const start = async (cmd = instruction("CMD")) => {
    const command = moved([...instruction("ENTRYPOINT"), ...cmd])
    if (canUnshare) {
      const { unshare, supervisor } = await startAsPid1(command, { cwd: app, env })
      return { server: unshare, supervisor }
    }
    const server = track(startServer(command.slice(1), { bin: command[0]!, cwd: app, env }))
    return { server, supervisor: server.pid }
  }
  return { port, exitCode, start }
}

// The image runs start_server under Node, whichever runtime the suite tests: once is enough.
describe.skipIf(!hasPyYaml || runtime === "bun")("examples/container and examples/kubernetes", () => {
  it("the image: two stages, a numeric non-root user, start_server as the entrypoint; the pod's grace period covers preStop and --kill-timeout", () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2)
    const user = /^USER (\d+)(?::\d+)?$/m.exec(dockerfile.slice(dockerfile.lastIndexOf("\nFROM ")))?.[1]
    expect(Number(user)).toBeGreaterThan(0)
    const entrypoint = instruction("ENTRYPOINT")
    expect(entrypoint[0]).toBe("start_server")
    expect(entrypoint.at(-1)).toBe("--")
    const killTimeout = Number(
      /^--kill-timeout=(\d+)s$/.exec(entrypoint.find((a) => a.startsWith("--kill-timeout=")) ?? "")?.[1]
    )
    const pod = podSpec()
    const [sleep, seconds] = pod.containers[0]!.lifecycle.preStop.exec.command
    expect(sleep).toBe("sleep")
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(Number(seconds) + killTimeout + 5)
    const control = entrypoint.find((a) => a.startsWith("--control-socket="))
    expect(pod.containers[0]!.readinessProbe.exec.command).toContain(control)
    expect(pod.containers[0]!.livenessProbe.exec.command.join(" ")).toContain(control)
  })

  it("ENTRYPOINT + CMD serve; the probes pass; the in-place restart of the README works; TERM stops it", async () => {
    const { port, exitCode, start } = await installImage()
    const { server, supervisor } = await start()
    const { readinessProbe, livenessProbe } = podSpec().containers[0]!
    await waitFor("the readiness probe to pass", () => (exitCode(readinessProbe.exec.command) === 0 ? true : undefined))
    expect(exitCode(livenessProbe.exec.command)).toBe(0)
    expect(await get(port)).toMatch(/^hello from generation 1, /)
    // `kubectl exec "$pod" -- start_server --restart --control-socket=/run/app/control.sock`
    expect(exitCode(["start_server", "--restart", "--control-socket=/run/app/control.sock"])).toBe(0)
    await server.waitForLine(/^old worker \d+ died, status:0$/)
    expect(await get(port)).toMatch(/^hello from generation 2, /)
    expect(exitCode(readinessProbe.exec.command)).toBe(0)
    // The kubelet's TERM, after preStop.
    process.kill(supervisor, "SIGTERM")
    expect((await server.exited).code).toBe(0)
  })

  it("the probes tell a crash-looping app (not ready, alive) from a supervisor that is gone (neither)", async () => {
    const { exitCode, start } = await installImage()
    const { server, supervisor } = await start(["node", "-e", "process.exit(1)"])
    const { readinessProbe, livenessProbe } = podSpec().containers[0]!
    await server.waitForLine(/^new worker \d+ seems to have failed to start/)
    expect(exitCode(readinessProbe.exec.command)).toBe(1)
    expect(exitCode(livenessProbe.exec.command)).toBe(0)
    process.kill(supervisor, "SIGTERM")
    expect((await server.exited).code).toBe(0)
    expect(exitCode(readinessProbe.exec.command)).not.toBe(0)
    expect(exitCode(livenessProbe.exec.command)).not.toBe(0)
  })
})
