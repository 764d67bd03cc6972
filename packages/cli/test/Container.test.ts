/**
 * start_server as a container's init (issue 12): it adopts what its workers leave behind
 * (child subreaper, or PID 1 of its own PID namespace) and reaps it, so no zombie stays;
 * its workers' exit statuses are still its own; TERM and INT still stop everything when it
 * is PID 1, which gets no default signal actions.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { afterAll, describe, expect, it, onTestFinished } from "vitest"
import {
  commandFor,
  ensureStopped,
  fixtures,
  freePort,
  get,
  nodeExecutable,
  type Running,
  readIfExists,
  repoRoot,
  runToExit,
  runtime,
  sleep,
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
        nodeExecutable,
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

    it("a TERM while the old supervisor still retires its workers after an upgrade reaches the new one", async () => {
      const port = await freePort()
      const control = path.join(tempDir(), "control.sock")
      // Each worker takes 2 s to exit after TERM: the old generation retires slowly.
      const { unshare, supervisor } = await startAsPid1(
        [
          startServerBin,
          `--port=127.0.0.1:${port}`,
          `--control-socket=${control}`,
          "--ready=notify-fd",
          "--",
          nodeExecutable,
          path.join(fixtures, "http-worker.mjs")
        ],
        { env: { EXIT_DELAY_MS: "2000" } }
      )
      await unshare.waitForLine(/^starting new worker \d+$/)
      expect(await get(port)).toMatch(/^hello from generation 1, /)
      const [program, args] = commandFor(startServerBin, ["upgrade", `--control-socket=${control}`])
      const upgrading = runToExit(["--target", String(supervisor), "--pid", "--mount", "--", program, ...args], {
        bin: "nsenter"
      })
      await unshare.waitForLine(/^the new supervisor is serving, sending TERM to this supervisor's workers:\d+$/)
      // The kubelet's one TERM, to PID 1, which is stopping already.
      process.kill(supervisor, "SIGTERM")
      expect((await upgrading).code).toBe(0)
      await unshare.waitForLine(/^start_server \(pid:1\) stands in as init/)
      expect((await unshare.exited).code).toBe(0)
      expect(unshare.lines().some((l) => /^received TERM, sending TERM to all workers:\d+$/.test(l))).toBe(true)
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
// examples/container and examples/kubernetes, run as written outside Docker (paths moved to a
// temporary directory, port 8080 to a free one on 127.0.0.1): the Dockerfile's own RUN, COPY,
// ENV, ENTRYPOINT and CMD lines, read from it, so that the test and the image cannot drift.

const dockerfile = fs.readFileSync(path.join(repoRoot, "examples/container/Dockerfile"), "utf8")

interface Instruction {
  readonly keyword: string
  readonly args: string
}

/** The Dockerfile's stages, each its instructions: continuation lines joined, comments dropped. */
const stages: ReadonlyArray<ReadonlyArray<Instruction>> = (() => {
  const result: Array<Array<Instruction>> = []
  const lines = dockerfile
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
  for (const line of lines) {
    const [keyword = "", ...rest] = line.split(/\s+/)
    if (keyword === "FROM") result.push([])
    result.at(-1)?.push({ keyword, args: rest.join(" ") })
  }
  return result
})()
const buildStage = stages[0] ?? []
const runtimeStage = stages.at(-1) ?? []

/** The argv of the runtime stage's exec-form `name` instruction. */
const instruction = (name: string): ReadonlyArray<string> => {
  const found = runtimeStage.filter((i) => i.keyword === name).at(-1)
  if (found === undefined) throw new Error(`the Dockerfile has no ${name}`)
  return JSON.parse(found.args) as ReadonlyArray<string>
}

interface Probe {
  readonly exec?: { readonly command: ReadonlyArray<string> }
  readonly httpGet?: { readonly path: string; readonly port: string | number }
  readonly tcpSocket?: { readonly port: string | number }
  readonly periodSeconds?: number
  readonly timeoutSeconds?: number
}
interface Container {
  readonly image: string
  readonly imagePullPolicy?: string
  readonly ports: ReadonlyArray<{ readonly name: string; readonly containerPort: number }>
  readonly resources?: {
    readonly requests?: Record<string, string>
    readonly limits?: Record<string, string>
  }
  readonly readinessProbe: Probe
  readonly livenessProbe: Probe
  readonly lifecycle: { readonly preStop: Probe }
  readonly securityContext?: { readonly readOnlyRootFilesystem?: boolean }
  readonly volumeMounts: ReadonlyArray<{ readonly name: string; readonly mountPath: string }>
}
interface PodSpec {
  readonly terminationGracePeriodSeconds: number
  readonly containers: ReadonlyArray<Container>
  readonly volumes: ReadonlyArray<{ readonly name: string; readonly emptyDir?: object }>
}
interface Manifest {
  readonly kind: string
  readonly metadata: { readonly name: string }
  readonly spec: {
    readonly selector?: Record<string, unknown> & { readonly matchLabels?: Record<string, string> }
    readonly ports?: ReadonlyArray<{ readonly port: number; readonly targetPort: string | number }>
    readonly template?: { readonly metadata: { readonly labels: Record<string, string> }; readonly spec: PodSpec }
  }
}

const hasPyYaml = spawnSync("python3", ["-c", "import yaml"]).status === 0

/** examples/kubernetes/deployment.yaml's documents, read by PyYAML (no kubectl here). */
const manifests = (): ReadonlyArray<Manifest> =>
  JSON.parse(
    execFileSync(
      "python3",
      [
        "-c",
        "import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
        "deployment.yaml"
      ],
      { cwd: path.join(repoRoot, "examples/kubernetes"), encoding: "utf8" }
    )
  ) as ReadonlyArray<Manifest>

const manifest = (kind: string): Manifest => {
  const found = manifests().find((m) => m.kind === kind)
  if (found === undefined) throw new Error(`examples/kubernetes/deployment.yaml has no ${kind}`)
  return found
}
const podSpec = (): PodSpec => manifest("Deployment").spec.template!.spec

/** A shell command of the Dockerfile with the image's directories moved under `root`. */
const movedPaths = (text: string, dirs: { readonly app: string; readonly run: string; readonly packs: string }) =>
  text.replaceAll("/run/app", dirs.run).replaceAll("/packs", dirs.packs).replaceAll("/app", dirs.app)

/**
 * The image, built outside Docker: the build stage's pack (`node scripts/pack.mjs /packs`,
 * after the `pnpm install` this checkout has had), its steps in /app (the npm install from the
 * tarballs, the COPY of the app), then the runtime stage's RUN and ENV, all as written.
 */
const buildImage = async () => {
  const root = tempDir()
  const dirs = { app: path.join(root, "app"), run: path.join(root, "run"), packs: path.join(root, "packs") }
  const sh = async (command: string, cwd: string) => {
    const result = await runToExit(["-c", command], { bin: "sh", cwd })
    if (result.code !== 0) throw new Error(`\`${command}\` failed (exit ${result.code}):\n${result.stderr}`)
  }
  const workdir = buildStage.findIndex((i) => i.keyword === "WORKDIR" && i.args === "/app")
  const pack = buildStage.slice(0, workdir).filter((i) => i.keyword === "RUN")
  expect(pack.map((i) => i.args)).toEqual([
    "corepack enable",
    "pnpm install --frozen-lockfile && node scripts/pack.mjs /packs"
  ])
  await sh(movedPaths("node scripts/pack.mjs /packs", dirs), repoRoot)
  fs.mkdirSync(dirs.app)
  for (const step of buildStage.slice(workdir + 1)) {
    if (step.keyword === "RUN") await sh(movedPaths(step.args, dirs), dirs.app)
    else if (step.keyword === "COPY") {
      const [from, to] = step.args.split(" ")
      fs.copyFileSync(path.join(repoRoot, from!), path.join(dirs.app, to!))
    } else throw new Error(`the build stage's ${step.keyword} in /app is not run here`)
  }
  const env: Record<string, string> = {}
  for (const step of runtimeStage) {
    if (step.keyword === "ENV") {
      for (const pair of step.args.split(" ")) {
        const [name, value] = pair.split("=") as [string, string]
        env[name] = movedPaths(value, dirs).replace("$PATH", process.env.PATH ?? "")
      }
    }
    // The image's `node` user is this test's user here.
    if (step.keyword === "RUN") {
      await sh(
        movedPaths(step.args, dirs).replaceAll("chown node:node", `chown ${process.getuid?.()}:${process.getgid?.()}`),
        root
      )
    }
  }
  return { root, dirs, env }
}

type Image = Awaited<ReturnType<typeof buildImage>>

/** The container of `image` on a free port: its probes, its commands, its process. */
const container = async ({ dirs, env }: Image) => {
  const port = await freePort()
  /** A command of the image or the manifest, with the directories and the port moved. */
  const moved = (words: ReadonlyArray<string>) =>
    words.map((word) => movedPaths(word, dirs).replaceAll("0.0.0.0:8080", `127.0.0.1:${port}`))
  /** Runs a user's command to its exit status. */
  const exitCode = (command: ReadonlyArray<string>) => {
    const [program, ...args] = moved(command)
    return spawnSync(program!, args, { cwd: dirs.app, env: { ...process.env, ...env }, stdio: "ignore" }).status
  }
  /** Whether `probe` passes, as the kubelet runs it (an HTTP status 200-399 within timeoutSeconds). */
  const passes = async (probe: Probe): Promise<boolean> => {
    if (probe.exec !== undefined) return exitCode(probe.exec.command) === 0
    if (probe.httpGet !== undefined) {
      const { path: pathname } = probe.httpGet
      return new Promise((resolve) => {
        const req = http.get(
          { host: "127.0.0.1", port, path: pathname, agent: false, timeout: (probe.timeoutSeconds ?? 1) * 1000 },
          (res) => {
            res.resume()
            resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400)
          }
        )
        req.on("error", () => resolve(false))
        req.on("timeout", () => req.destroy(new Error("timeout")))
      })
    }
    throw new Error(`a probe this test does not run: ${JSON.stringify(probe)}`)
  }
  /** The container's process: ENTRYPOINT + CMD (or `cmd`, as `docker run IMAGE cmd…` gives it). */
  const start = async (cmd = instruction("CMD")) => {
    const command = moved([...instruction("ENTRYPOINT"), ...cmd])
    if (canUnshare) {
      const { unshare, supervisor } = await startAsPid1(command, { cwd: dirs.app, env })
      return { server: unshare, supervisor }
    }
    const server = track(startServer(command.slice(1), { bin: command[0]!, cwd: dirs.app, env }))
    return { server, supervisor: server.pid }
  }
  return { port, exitCode, passes, start }
}

// The image runs start_server under Node, whichever runtime the suite tests: once is enough.
describe.skipIf(!hasPyYaml || runtime === "bun")("examples/container and examples/kubernetes", () => {
  let image: Promise<Image> | undefined
  /** The image, built once for the file (the npm install is the slow part); a failed build fails each test. */
  const built = (): Promise<Image> => {
    image ??= buildImage()
    return image
  }
  afterAll(async () => {
    const root = await image?.then((i) => i.root).catch(() => undefined)
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true })
  })

  it("the image: two stages, a numeric non-root user, start_server as the entrypoint; the pod's grace period covers preStop and --kill-timeout", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    const user = runtimeStage.find((i) => i.keyword === "USER")?.args
    expect(Number(/^(\d+)(?::\d+)?$/.exec(user ?? "")?.[1])).toBeGreaterThan(0)
    const entrypoint = instruction("ENTRYPOINT")
    expect(entrypoint[0]).toBe("start_server")
    expect(entrypoint.at(-1)).toBe("--")
    const killTimeout = Number(
      /^--kill-timeout=(\d+)s$/.exec(entrypoint.find((a) => a.startsWith("--kill-timeout=")) ?? "")?.[1]
    )
    const pod = podSpec()
    const [sleep, seconds] = pod.containers[0]!.lifecycle.preStop.exec!.command
    expect(sleep).toBe("sleep")
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(Number(seconds) + killTimeout + 5)
    const control = entrypoint.find((a) => a.startsWith("--control-socket="))
    expect(pod.containers[0]!.livenessProbe.exec!.command.join(" ")).toContain(control)
  })

  it("the manifest: the Service the README names, resources, a writable /tmp under a read-only root, IfNotPresent, probes that start no process (or say what they cost)", () => {
    const deployment = manifest("Deployment")
    const service = manifest("Service")
    const readme = fs.readFileSync(path.join(repoRoot, "examples/kubernetes/README.md"), "utf8")
    expect(readme).toContain(`Service \`${service.metadata.name}\``)
    const labels = deployment.spec.template!.metadata.labels
    expect(Object.entries(service.spec.selector ?? {}).every(([k, v]) => labels[k] === v)).toBe(true)
    const [app] = podSpec().containers
    expect(service.spec.ports?.map((p) => p.targetPort)).toEqual(app!.ports.map((p) => p.name))
    expect(app!.imagePullPolicy).toBe("IfNotPresent")
    expect(Object.keys(app!.resources?.requests ?? {}).sort()).toEqual(["cpu", "memory"])
    expect(app!.resources?.limits?.memory).toBeDefined()
    expect(app!.securityContext?.readOnlyRootFilesystem).toBe(true)
    const emptyDirs = new Set(podSpec().volumes.flatMap((v) => (v.emptyDir === undefined ? [] : [v.name])))
    const writable = app!.volumeMounts.filter((m) => emptyDirs.has(m.name)).map((m) => m.mountPath)
    expect(writable.sort()).toEqual(["/run/app", "/tmp"])
    // Readiness starts no process; liveness does (a Node process), so it is rare and its cost is stated.
    expect(app!.readinessProbe.exec).toBeUndefined()
    expect(app!.readinessProbe.httpGet?.port).toBe(app!.ports[0]!.name)
    expect(app!.livenessProbe.periodSeconds).toBeGreaterThanOrEqual(30)
    const yaml = fs.readFileSync(path.join(repoRoot, "examples/kubernetes/deployment.yaml"), "utf8")
    expect(yaml).toMatch(/Cost: each check starts a Node process/)
  })

  it("builds as the Dockerfile does: npm installs start_server and @starter/worker from the packed tarballs into /app", async () => {
    const { dirs } = await built()
    const installed = fs.readdirSync(path.join(dirs.app, "node_modules/@starter")).sort()
    expect(installed).toEqual(["cli", "worker"])
    expect(fs.realpathSync(path.join(dirs.app, "node_modules/.bin/start_server"))).toBe(
      path.join(dirs.app, "node_modules/@starter/cli/bin/start_server.js")
    )
    expect(fs.statSync(dirs.run).isDirectory()).toBe(true)
  }, 240_000)

  it("ENTRYPOINT + CMD serve; the probes pass; the in-place restart of the README works; TERM stops it", async () => {
    const { port, exitCode, passes, start } = await container(await built())
    const { server, supervisor } = await start()
    const { readinessProbe, livenessProbe } = podSpec().containers[0]!
    for (let tries = 0; !(await passes(readinessProbe)); tries++) {
      if (tries === 100) throw new Error("the readiness probe never passed")
      await sleep(100)
    }
    expect(await passes(livenessProbe)).toBe(true)
    expect(await get(port)).toMatch(/^hello from generation 1, /)
    // `kubectl exec "$pod" -- start_server restart --control-socket=/run/app/control.sock`
    expect(exitCode(["start_server", "restart", "--control-socket=/run/app/control.sock"])).toBe(0)
    await server.waitForLine(/^old worker \d+ died, status:0$/)
    expect(await get(port)).toMatch(/^hello from generation 2, /)
    expect(await passes(readinessProbe)).toBe(true)
    // The kubelet's TERM, after preStop.
    process.kill(supervisor, "SIGTERM")
    expect((await server.exited).code).toBe(0)
  }, 240_000)

  it("the probes tell a crash-looping app (not ready, alive) from a supervisor that is gone (neither)", async () => {
    const { passes, start } = await container(await built())
    const { server, supervisor } = await start(["node", "-e", "process.exit(1)"])
    const { readinessProbe, livenessProbe } = podSpec().containers[0]!
    await server.waitForLine(/^new worker \d+ seems to have failed to start/)
    expect(await passes(readinessProbe)).toBe(false)
    expect(await passes(livenessProbe)).toBe(true)
    process.kill(supervisor, "SIGTERM")
    expect((await server.exited).code).toBe(0)
    expect(await passes(readinessProbe)).toBe(false)
    expect(await passes(livenessProbe)).toBe(false)
  }, 240_000)
})
