/**
 * Chaos: hostile workers, signal storms, a killed supervisor, broken files and hostile
 * command lines. Each scenario asserts that nothing is lost, and that the supervisor keeps
 * running or exits cleanly with a clear message.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as ChaosRun from "./support/ChaosRun.js"
import {
  fixtures,
  freePort,
  get,
  isRunning,
  nodeExecutable,
  readIfExists,
  runToExit,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { fill, mountTmpfs, tmpfsUnavailable } from "./support/Tmpfs.js"

const worker = path.join(fixtures, "http-worker.mjs")
const track = trackSupervisors()

const launch = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const server = startServer(args, { env })
  track(server)
  return server
}

const generationsIn = (status: string) => [
  ...new Set((readIfExists(status) ?? "").split("\n").flatMap((l) => (l === "" ? [] : [l.split(":")[0]])))
]

describe("chaos", () => {
  it("a worker crash loop backs off and the supervisor keeps running; TERM still exits 0", async () => {
    // Each worker passes its alive check, then crashes 200 ms later: a crash loop.
    const server = launch(["--interval=0", "--", "sh", "-c", "sleep 0.2; exit 7"])
    await server.waitForLine(/^worker \d+ died unexpectedly with status:1792, restarting$/)
    // More than 15 crashes within 10 s make a loop: from then on, respawns wait 0.5-1 s, 1-2 s…
    await server.waitForLine(
      /^crash loop: 16 crashes in the last 10 s, 1 since it began; starting the next worker in \d+ ms$/,
      15_000
    )
    const before = server.lines().filter((l) => l.startsWith("starting new worker")).length
    await new Promise((r) => setTimeout(r, 2500))
    const spawns = server.lines().filter((l) => l.startsWith("starting new worker")).length - before
    // Without a backoff there would be a spawn every ~0.25 s (10 in 2.5 s); with it, at most 3.
    expect(spawns).toBeLessThanOrEqual(3)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })

  it("a worker that ignores TERM is killed after --kill-timeout, at a restart and at shutdown", async () => {
    const port = await freePort()
    const server = launch(
      [`--port=127.0.0.1:${port}`, "--interval=0", "--kill-timeout=300ms", "--", nodeExecutable, worker],
      { IGNORE_TERM: "1" }
    )
    await server.waitForLine(/^starting new worker/)
    await get(port) // serving: its TERM handler is in place
    server.kill("SIGHUP")
    await server.waitForLine(/did not exit 0.3 secs after being signalled, sending KILL$/)
    await server.waitForLine(/^old worker \d+ died, status:9$/)
    // --interval=0 calls generation 2 up at once: wait until it serves (its TERM handler is in place).
    for (let tries = 0; !(await get(port)).startsWith("hello from generation 2"); tries++) {
      if (tries > 250) throw new Error("generation 2 never answered")
      await new Promise((r) => setTimeout(r, 20))
    }
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
    expect(server.lines().at(-2)).toMatch(/^worker \d+ died, status:9$/)
  })

  it("a worker that never becomes ready is stopped after --ready-timeout; the old generation keeps serving", async () => {
    const dir = tempDir()
    const port = await freePort()
    const flag = path.join(dir, "mute")
    const status = path.join(dir, "status")
    // Ready on the notify fd unless the flag file exists.
    // The node worker itself must not answer on the notify fd: the shell decides.
    const script = `[ -e ${flag} ] || (sleep 0.1; echo READY=1 >&$STARTER_NOTIFY_FD) & exec env -u STARTER_NOTIFY_FD ${nodeExecutable} ${worker}`
    const server = launch([
      `--port=127.0.0.1:${port}`,
      `--status-file=${status}`,
      "--ready=notify-fd",
      "--ready-timeout=500ms",
      "--max-start-attempts=2",
      "--",
      "sh",
      "-c",
      script
    ])
    // A worker enters the status file once it is ready.
    await waitFor("generation 1 to be ready", () => (generationsIn(status).includes("1") ? true : undefined))
    const first = await get(port)
    fs.writeFileSync(flag, "")
    server.kill("SIGHUP")
    await server.waitForLine(/^giving up the restart after 2 failed attempts; old workers keep serving:\d+$/, 15_000)
    expect(await get(port)).toBe(first)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })

  it("a storm of 50 HUPs in one second coalesces, and every request is still answered", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "status")
    const server = launch([
      `--port=127.0.0.1:${port}`,
      `--status-file=${status}`,
      "--interval=1",
      "--",
      nodeExecutable,
      worker
    ])
    await waitFor("generation 1", () => (generationsIn(status).length === 1 ? true : undefined))
    await get(port)
    let failures = 0
    let answered = 0
    const load = (async () => {
      for (let i = 0; i < 200; i++) {
        try {
          await get(port)
          answered += 1
        } catch {
          failures += 1
        }
      }
    })()
    for (let i = 0; i < 50; i++) {
      server.kill("SIGHUP")
      await new Promise((r) => setTimeout(r, 20))
    }
    await load
    await waitFor("one generation left", () => (generationsIn(status).length === 1 ? true : undefined), 15_000)
    const spawns = server.lines().filter((l) => l.startsWith("starting new worker")).length
    expect(failures).toBe(0)
    expect(answered).toBe(200)
    // 50 HUPs within one --interval: all but the first arrive during a rollout and coalesce.
    expect(spawns).toBeLessThan(50)
    expect(server.lines().filter((l) => l.includes("queueing one more")).length).toBeGreaterThan(0)
  })

  it("after SIGKILL of the supervisor, a fresh start on the same port and files works", async () => {
    const dir = tempDir()
    const port = await freePort()
    const files = [`--pid-file=${dir}/pid`, `--status-file=${dir}/status`, `--path=${dir}/app.sock`]
    const first = launch([`--port=127.0.0.1:${port}`, ...files, "--interval=0", "--", nodeExecutable, worker])
    await waitFor("status", () => readIfExists(`${dir}/status`))
    const orphan = Number(readIfExists(`${dir}/status`)?.split(":")[1])
    first.kill("SIGKILL")
    await first.exited
    // The orphaned worker still holds the port; it goes the way an operator would send it.
    process.kill(orphan, "SIGTERM")
    await waitFor("the orphan to exit", () => {
      try {
        process.kill(orphan, 0)
        return undefined
      } catch {
        return true
      }
    })
    const second = launch([`--port=127.0.0.1:${port}`, ...files, "--interval=0", "--", nodeExecutable, worker])
    await second.waitForLine(/^removing existing socket file:/)
    await waitFor("the new generation", () => (readIfExists(`${dir}/pid`) === `${second.pid}\n` ? true : undefined))
    expect(await get(port)).toMatch(/^hello from generation 1,/)
    second.kill("SIGTERM")
    expect((await second.exited).code).toBe(0)
  })

  it("a status file that cannot be written is reported and the supervisor keeps serving", async () => {
    const dir = tempDir()
    const port = await freePort()
    const status = path.join(dir, "missing-dir", "status")
    const server = launch([
      `--port=127.0.0.1:${port}`,
      `--status-file=${status}`,
      "--interval=0",
      "--",
      nodeExecutable,
      worker
    ])
    await server.waitForLine(/^failed to create temporary file:.*No such file or directory$/)
    expect(await get(port)).toMatch(/^hello from generation 1,/)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })

  // A real full disk and a real read-only file system: a 16 KiB tmpfs.
  it.skipIf(tmpfsUnavailable !== undefined).each([
    ["a full disk", "rw", /^failed to create temporary file:.*status\.\d+:No space left on device$/],
    ["a read-only file system", "ro", /^failed to create temporary file:.*Read-only file system$/]
  ])(
    "%s under the status file is reported; the supervisor keeps serving, restarts and exits 0",
    async (_, mode, message) => {
      const dir = mountTmpfs(`size=16k,${mode}`)
      if (mode === "rw") fill(dir)
      const port = await freePort()
      const server = launch([
        `--port=127.0.0.1:${port}`,
        `--status-file=${path.join(dir, "status")}`,
        "--interval=0",
        "--",
        nodeExecutable,
        worker
      ])
      await server.waitForLine(message)
      expect(await get(port)).toMatch(/^hello from generation 1,/)
      server.kill("SIGHUP")
      await server.waitForLine(/^old worker \d+ died, status:0$/)
      expect(await get(port)).toMatch(/^hello from generation 2,/)
      server.kill("SIGTERM")
      expect((await server.exited).code).toBe(0)
    }
  )

  it("garbage in the pid file: --stop and --restart fail clearly; a new server takes the file over", async () => {
    const dir = tempDir()
    const pidFile = path.join(dir, "pid")
    fs.writeFileSync(pidFile, "not a pid\n")
    expect(await runToExit(["--stop", `--pid-file=${pidFile}`])).toMatchObject({
      code: 255,
      stderr: `no pid found in ${pidFile}: "not a pid"`
    })
    fs.writeFileSync(`${dir}/status`, "1:1\n")
    expect((await runToExit(["--restart", `--pid-file=${pidFile}`, `--status-file=${dir}/status`])).code).toBe(255)
    const server = launch([`--pid-file=${pidFile}`, "--interval=0", "--", "sleep", "30"])
    await waitFor("the pid file", () => (readIfExists(pidFile) === `${server.pid}\n` ? true : undefined))
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })

  it("a stale unix socket is replaced; a regular file at --path is refused and kept", async () => {
    const dir = tempDir()
    const stale = path.join(dir, "stale.sock")
    // Left behind: bound by a process that is gone, nothing listens there.
    execFileSync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", stale])
    const replaced = launch([`--path=${stale}`, "--interval=0", "--", "sleep", "30"])
    await replaced.waitForLine(new RegExp(`^removing existing socket file:${stale}$`))
    replaced.kill("SIGTERM")
    expect((await replaced.exited).code).toBe(0)

    const precious = path.join(dir, "notes.txt")
    fs.writeFileSync(precious, "keep me")
    const refused = await runToExit([`--path=${precious}`, "--", "sleep", "30"])
    expect(refused.code).toBe(255)
    expect(refused.stderr).toContain(`refusing to replace ${precious}: not a socket`)
    expect(fs.readFileSync(precious, "utf8")).toBe("keep me")
  })

  it("an envdir with odd files: empty, blank line, hidden, binary junk, a directory", async () => {
    const dir = tempDir()
    const envdir = path.join(dir, "env")
    fs.mkdirSync(envdir)
    fs.writeFileSync(path.join(envdir, "EMPTY"), "")
    fs.writeFileSync(path.join(envdir, "BLANK"), "\n")
    fs.writeFileSync(path.join(envdir, ".HIDDEN"), "x")
    fs.writeFileSync(path.join(envdir, "MULTI"), "first\nsecond\n")
    fs.writeFileSync(path.join(envdir, "JUNK"), Buffer.from([0xff, 0x00, 0x41]))
    fs.mkdirSync(path.join(envdir, "SUBDIR"))
    const out = path.join(dir, "out")
    const result = await runToExit([
      `--envdir=${envdir}`,
      "--interval=0",
      "--",
      "sh",
      "-c",
      `echo "E=\${EMPTY-unset} B=[$BLANK] H=\${HIDDEN-unset} M=$MULTI D=\${SUBDIR-unset}" > ${out}; kill -TERM $PPID`
    ])
    expect(result.code).toBe(0)
    expect(readIfExists(out)).toBe("E=unset B=[] H=unset M=first D=unset\n")
  })

  it.each([
    [["--port=99999999999", "--", "true"], 255, /^invalid ``port'' value:99999999999$/],
    [["--port=", "--", "true"], 1, /^Option port requires an argument$/],
    [["--workers=0", "--", "true"], 255, /^--workers: Expected a number between 1 and 1024, actual 0$/],
    [["--kill-timeout=-5", "--", "true"], 1, /^Value "-5" invalid for option kill-timeout \(duration expected\)$/],
    [["--signal-on-hup=KILLALL", "--", "true"], 255, /^Unrecognized signal name "KILLALL"$/],
    [[`--port=${"9".repeat(5000)}`, "--", "true"], 255, /^invalid ``port'' value:9+$/],
    [["--path=" + "x".repeat(200), "--", "true"], 36, /^failed to listen to file x+:File name too long$/],
    [["--timeout=abc", "--stop", "--pid-file=x"], 1, /^Value "abc" invalid for option timeout \(duration expected\)$/],
    [["--log-format=xml", "--", "true"], 1, /^Value "xml" invalid for option log-format \(text or json expected\)$/],
    [
      ["--ready=ipc", "--ready-timeout=0", "--", "true"],
      255,
      /^--ready-timeout: Expected a positive number, actual 0$/
    ],
    [["--max-surge=0", "--", "true"], 255, /^--max-surge: Expected a positive number, actual 0$/],
    [["--ready=bogus", "--", "true"], 255, /^invalid --ready value:bogus \(expected none, notify-fd, /],
    [["--port=127.0.0.1:1=5", "--port=127.0.0.1:2=5", "--", "true"], 255, /both ask for file descriptor 5$/],
    [["--signal-on-term=RTMIN", "--", "true"], 255, /^real-time signal RTMIN is not supported/],
    [["--control-socket=/nonexistent/dir/c.sock", "--", "true"], 2, /^failed to listen on \/nonexistent\/dir\/c\.sock:/]
  ] as const)("hostile command line %j fails with one clear line", async (args, code, message) => {
    const result = await runToExit(args)
    expect(result.code).toBe(code)
    const lines = result.stderr.split("\n").filter((l) => !l.startsWith("start_server (pid:"))
    expect(lines.length).toBe(1)
    expect(lines[0]).toMatch(message)
  })
})

describe("--signal-process-group", () => {
  it.each([
    [true, "stops the worker's own children with it"],
    [false, "without it, a worker's children outlive it (as with Perl)"]
  ])("%s: %s", async (group) => {
    const dir = tempDir()
    const child = path.join(dir, "child.pid")
    // The worker starts a child of its own and waits; TERM reaches the child only through the group.
    const script = `sleep 60 & echo $! > ${child}; wait`
    const server = launch([...(group ? ["--signal-process-group"] : []), "--interval=0", "--", "sh", "-c", script])
    const grandchild = Number(await waitFor("the worker's child", () => readIfExists(child)?.trim() || undefined))
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
    await new Promise((r) => setTimeout(r, 200))
    expect(isRunning(grandchild)).toBe(!group)
    if (!group) process.kill(grandchild, "SIGKILL")
  })
})

describe("the lifeline", () => {
  it("tells workers that the supervisor died, even by SIGKILL (its pipe reaches EOF)", async () => {
    const dir = tempDir()
    const marker = path.join(dir, "orphaned")
    // The worker blocks reading its lifeline; EOF means the supervisor is gone.
    const script = `cat <&$STARTER_SUPERVISOR_FD >/dev/null; echo eof > ${marker}`
    const server = launch(["--interval=0", "--", "sh", "-c", script])
    await server.waitForLine(/^starting new worker/)
    await new Promise((r) => setTimeout(r, 300))
    expect(fs.existsSync(marker)).toBe(false)
    server.kill("SIGKILL")
    await waitFor("the worker to notice", () => readIfExists(marker))
  })
})

describe("a worker that cannot be started", () => {
  // The statuses are those of Perl's child: exit(255) after exec, die with errno (ENOENT) after chdir.
  // A program missing at the first start ends start_server at once (FailFast.test.ts); one
  // that goes missing later fails the crashed worker's replacement, retried as in Perl.
  it.each([
    [["--", "PROG", "arg1"], /^failed to exec .*\/app\.sh:No such file or directory$/, 65280],
    [["--dir=/nonexistent-dir", "--", "true"], /^failed to chdir:\/nonexistent-dir:No such file or directory$/, 512]
  ])("%j never deletes the supervisor's pid file or sockets (Perl quirk 1)", async (args, message, status) => {
    const dir = tempDir()
    const program = path.join(dir, "app.sh")
    fs.writeFileSync(program, "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 })
    const files = [`--pid-file=${dir}/pid`, `--status-file=${dir}/status`, `--path=${dir}/app.sock`]
    const server = launch([...files, ...args.map((a) => a.replace("PROG", program))])
    if (args.includes("PROG")) {
      const first = await waitFor("generation 1", () => /^1:(\d+)\n$/.exec(readIfExists(`${dir}/status`) ?? "")?.[1])
      fs.rmSync(program)
      process.kill(Number(first), "SIGKILL")
    }
    await server.waitForLine(message)
    await server.waitForLine(new RegExp(`seems to have failed to start, exit status:${status}$`))
    expect(readIfExists(`${dir}/pid`)).toBe(`${server.pid}\n`)
    expect(fs.statSync(`${dir}/app.sock`).isSocket()).toBe(true)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
    expect(fs.existsSync(`${dir}/pid`)).toBe(false)
  })
})

/**
 * Random interleavings (seeded: STARTER_CHAOS_SEED replays a run; STARTER_CHAOS_RUNS and
 * STARTER_CHAOS_STEPS make a longer soak) of HUP, upgrade, scale, status, floods, worker kills
 * and exec failures, ended by stop or TERM, on Node and on Bun. After each run nothing of it
 * runs, the port is free, the pid file was only ever a pid and is gone, and no client was told
 * something that was not so.
 */
describe("chaos, seeded", () => {
  const runs = Number(process.env.STARTER_CHAOS_RUNS ?? 1)
  const steps = Number(process.env.STARTER_CHAOS_STEPS ?? 10)
  const firstSeed = Number(process.env.STARTER_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))

  /** The claims a client made, each against what the run saw. */
  const untruths = (outcome: ChaosRun.ChaosOutcome): Array<string> => {
    const pids = new Set([...outcome.pidFileContents].map((c) => Number(c)))
    const wrong: Array<string> = []
    const documented: Record<string, ReadonlyArray<number>> = {
      status: [0, 1, 3],
      "final-status": [0],
      scale: [0, 1, 3],
      stop: [0, 1, 3],
      upgrade: [0, 1, 3, 10, 11, 12]
    }
    for (const c of outcome.clients) {
      const said = `${c.args.join(" ")} (at ${c.at} ms): exit ${c.code}, ${JSON.stringify(c.stdout + c.stderr)}`
      if (c.code === null) wrong.push(`${said}: no answer within 40 s`)
      else if (!documented[c.action]?.includes(c.code)) wrong.push(`${said}: not a documented exit status`)
      if (c.code !== 0) continue
      if (c.action === "status" || c.action === "final-status") {
        const pid = (JSON.parse(c.stdout) as { supervisor?: { pid?: number } }).supervisor?.pid
        if (pid === undefined || !pids.has(pid)) wrong.push(`${said}: answered by a supervisor not in charge`)
      }
      if (c.action === "final-status") {
        // The number of workers is the one the last scale told its client (any of those that
        // overlapped it, when several were in flight at once), or the start's 2.
        const scales = outcome.clients.filter((s) => s.action === "scale" && s.code === 0)
        const last = scales.filter((s) => !scales.some((t) => t.issued > s.at))
        const possible = last.length === 0 ? [2] : last.map((s) => Number(s.args[1]))
        const target = (JSON.parse(c.stdout) as { targetWorkers?: number }).targetWorkers
        if (target === undefined || !possible.includes(target)) {
          wrong.push(`${said}: ${target} workers, though scale answered ${possible.join(" or ")}`)
        }
      }
      if (c.action === "upgrade") {
        const pid = Number(/\(pid (\d+)\) serves/.exec(c.stdout)?.[1])
        if (!pids.has(pid)) wrong.push(`${said}: that supervisor never took the pid file`)
      }
    }
    return wrong
  }

  const runtimes = ChaosRun.bunAvailable ? (["node", "bun"] as const) : (["node"] as const)
  it.each(runtimes)(
    "on %s: nothing left running, port free, pid file intact, every answer true",
    async (runtime) => {
      for (let i = 0; i < runs; i++) {
        const seed = firstSeed + i
        // Printed before the run: a failure (or a hang) can be replayed with STARTER_CHAOS_SEED.
        console.log(`chaos run on ${runtime}: STARTER_CHAOS_SEED=${seed} STARTER_CHAOS_STEPS=${steps}`)
        const outcome = await ChaosRun.run(seed, runtime, steps)
        const replay = `seed ${seed} on ${runtime}, steps ${outcome.steps.join(" ")}\n${outcome.log}`
        expect(outcome.leftRunning, replay).toEqual([])
        expect(outcome.portFree, replay).toBe(true)
        expect(
          [...outcome.pidFileContents].filter((c) => !/^[1-9]\d*\n$/.test(c)),
          replay
        ).toEqual([])
        expect(outcome.pidFileAtEnd, replay).toBe(undefined)
        expect(untruths(outcome), replay).toEqual([])
        expect(
          outcome.log.split("\n").filter((l) => /^\s+at /.test(l)),
          replay
        ).toEqual([])
      }
    },
    240_000
  )
})
