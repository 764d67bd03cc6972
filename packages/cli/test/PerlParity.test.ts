/**
 * Our start_server and Perl's (Server::Starter 0.35, /usr/bin/start_server) side by side, with
 * the same arguments on different ports and paths: what a worker receives, the status file
 * over time, stderr lines (pids normalised, Perl's ` at FILE line N.` left out), exit codes,
 * and the --stop/--restart wrappers against each other's servers. Where we diverge on
 * purpose (docs/compatibility.md) the test asserts our behaviour and says what Perl does.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest"
import {
  ensureStopped,
  freePort,
  type Running,
  readIfExists,
  sleep,
  startServer,
  tempDir,
  waitFor
} from "./support/Harness.js"
import {
  binOf,
  exists,
  type Impl,
  impls,
  normalizeLog,
  normalizeStatus,
  parityWorker,
  parseReport,
  portEntries,
  processEnded,
  runProbed,
  startProbed,
  type WorkerReport,
  watchFile
} from "./support/Parity.js"
import { perlMissing } from "./support/Perl.js"

const skipReason = perlMissing()

/** Starts `impl` with the parity worker; stopped when the test ends, whatever happens. */
const launch = (
  context: Pick<TestContext, "onTestFinished">,
  impl: Impl,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {}
): Running => {
  const server = startServer([...args, "--", parityWorker], { bin: binOf(impl), env })
  context.onTestFinished(() => ensureStopped(server))
  return server
}

const waitForStatus = (file: string, pattern: RegExp, timeoutMs = 10_000) =>
  waitFor(
    `status file ${file} matching ${pattern}`,
    () => (pattern.test(readIfExists(file) ?? "") ? true : undefined),
    timeoutMs
  )

const waitForReport = async (file: string): Promise<WorkerReport> =>
  parseReport(await waitFor(`worker report ${file}`, () => readIfExists(file)))

/** Both implementations at once, each in its own directory with its own ports. */
const both = <A>(run: (impl: Impl) => Promise<A>): Promise<Record<Impl, A>> =>
  Promise.all(impls.map(run)).then(([ours, perl]) => ({ ours: ours as A, perl: perl as A }))

describe.skipIf(skipReason !== undefined)(
  `parity with Perl's start_server 0.35${skipReason ? ` (skipped: ${skipReason})` : ""}`,
  () => {
    // ---------------------------------------------------------------------------------------
    // 1. SERVER_STARTER_PORT keys, and the sockets behind the fds
    // ---------------------------------------------------------------------------------------
    describe.concurrent("SERVER_STARTER_PORT", () => {
      interface Ctx {
        readonly p: number
        readonly q: number
        readonly dir: string
      }
      interface KeyCase {
        readonly name: string
        readonly args: (ctx: Ctx) => ReadonlyArray<string>
      }
      const cases: ReadonlyArray<KeyCase> = [
        { name: "bare port", args: ({ p }) => [`--port=${p}`] },
        { name: "IPv4 host", args: ({ p }) => [`--port=127.0.0.1:${p}`] },
        { name: "host name kept as typed", args: ({ p }) => [`--port=localhost:${p}`] },
        { name: "bracketed IPv6", args: ({ p }) => [`--port=[::1]:${p}`] },
        { name: "unbracketed IPv6", args: ({ p }) => [`--port=::1:${p}`] },
        { name: "bracketed IPv4", args: ({ p }) => [`--port=[127.0.0.1]:${p}`] },
        { name: "whitespace around the port", args: ({ p }) => [`--port= 127.0.0.1: ${p} `] },
        { name: "UDP bare port", args: ({ p }) => [`--port=u${p}`] },
        { name: "UDP with host", args: ({ p }) => [`--port=127.0.0.1:u${p}`] },
        { name: "unix socket", args: ({ dir }) => [`--path=${dir}/x.sock`] },
        {
          name: "paths after ports regardless of interleaving",
          args: ({ p, q, dir }) => [
            `--path=${dir}/a.sock`,
            `--port=127.0.0.1:${p}`,
            `--path=${dir}/b.sock`,
            `--port=[::1]:${q}`,
            `--port=127.0.0.1:u${q}`
          ]
        },
        { name: "nothing bound: empty string", args: () => [] },
        { name: "=N placement", args: ({ p }) => [`--port=127.0.0.1:${p}=5`] },
        // (`=05` first: had the socket landed on fd 5 by itself, Perl's dup2 + close would close it.)
        { name: "leading zeros kept as typed", args: ({ p }) => [`--port=[::1]:0${p}=05`, `--port=0${p}`] }
      ]

      interface KeyRun {
        readonly ctx: Ctx
        readonly report: WorkerReport
        readonly exit: { code: number | null; signal: NodeJS.Signals | null }
        readonly log: ReadonlyArray<string>
      }

      const runKeys = (context: TestContext, impl: Impl, keyCase: KeyCase): Promise<KeyRun> =>
        Promise.all([freePort(), freePort()]).then(async ([p, q]) => {
          const ctx = { p, q, dir: tempDir() }
          const out = path.join(ctx.dir, "report")
          const server = launch(context, impl, keyCase.args(ctx), { PARITY_OUT: out })
          const report = await waitForReport(out)
          server.kill("SIGTERM")
          const exit = await server.exited
          return { ctx, report, exit, log: normalizeLog(server.lines()) }
        })

      /** Ports and the directory replaced by P, Q and DIR, so both runs compare byte for byte. */
      const generic = (run: KeyRun, text: string) =>
        text
          .replaceAll(run.ctx.dir, "DIR")
          // Leading zeros stay (`0P`): keys keep the port as typed.
          .replace(new RegExp(`(?<![0-9])(0*)${run.ctx.p}(?![0-9])`, "g"), "$1P")
          .replace(new RegExp(`(?<![0-9])(0*)${run.ctx.q}(?![0-9])`, "g"), "$1Q")

      for (const keyCase of cases) {
        it(`${keyCase.name}: same keys in the same order, each fd really is that socket`, async (context) => {
          const runs = await both((impl) => runKeys(context, impl, keyCase))
          const keys = (run: KeyRun) => portEntries(run.report.serverStarterPort).map(([key]) => generic(run, key))
          context.expect(keys(runs.ours)).toEqual(keys(runs.perl))
          context.expect(runs.ours.report.generation).toBe("1")
          context.expect(runs.perl.report.generation).toBe("1")

          // What each key's fd is, as the worker sees it (getsockname, SO_TYPE, O_NONBLOCK).
          const sockets = (run: KeyRun) =>
            portEntries(run.report.serverStarterPort).map(
              ([key, fd]) => `${generic(run, key)} -> ${generic(run, run.report.sockets.get(fd) ?? "missing")}`
            )
          context.expect(sockets(runs.ours)).toEqual(sockets(runs.perl))
          // Perl workers (Starlet, Net::Server::SS) accept on the inherited socket in blocking mode.
          for (const description of runs.ours.report.sockets.values()) {
            context.expect(description).toMatch(/ (stream|dgram) blocking$/)
          }
          // fd numbers may differ (Perl keeps its own, ours start at 3), `=N` never does.
          const oursFds = portEntries(runs.ours.report.serverStarterPort).map(([, fd]) => fd)
          context.expect(new Set(oursFds).size).toBe(oursFds.length)
          if (keyCase.name === "=N placement") {
            context.expect(runs.ours.report.serverStarterPort).toBe(`127.0.0.1:${runs.ours.ctx.p}=5`)
            context.expect(runs.perl.report.serverStarterPort).toBe(`127.0.0.1:${runs.perl.ctx.p}=5`)
          }

          context.expect(runs.ours.exit).toEqual({ code: 0, signal: null })
          context.expect(runs.perl.exit).toEqual({ code: 0, signal: null })
          // Perl announces `=N` with `socket is duplicated to file descriptor N`: pinned separately below.
          const log = (run: KeyRun) => run.log.filter((l) => !l.startsWith("socket is duplicated"))
          context.expect(log(runs.ours)).toEqual(log(runs.perl))
        })
      }

      // BUG: ours never prints Perl's `socket is duplicated to file descriptor N` (Starter.pm:L153).
      // Fix, packages/platform-node/src/NodeListenSockets.ts `open`: after binding an inet spec
      // with `spec.fd !== undefined`, `Effect.logInfo(\`socket is duplicated to file descriptor ${spec.fd}\`)`.
      it("=N placement: logs `socket is duplicated to file descriptor N` as Perl does", async (context) => {
        const runs = await both((impl) =>
          runKeys(context, impl, { name: "=N", args: ({ p }) => [`--port=127.0.0.1:${p}=5`] })
        )
        context.expect(runs.perl.log).toContain("socket is duplicated to file descriptor 5")
        context.expect(runs.ours.log).toEqual(runs.perl.log)
      })
    })

    // ---------------------------------------------------------------------------------------
    // 2. Generations, status file and log through a restart whose first attempts fail
    // ---------------------------------------------------------------------------------------
    it("HUP with generations 2 and 3 failing: same status-file sequence, same log, clean TERM", async (context) => {
      const runs = await both(async (impl) => {
        const dir = tempDir()
        const status = path.join(dir, "status")
        const pidFile = path.join(dir, "pid")
        const watch = watchFile(status)
        context.onTestFinished(watch.stop)
        const port = await freePort()
        const server = launch(
          context,
          impl,
          ["--interval=1", `--port=127.0.0.1:${port}`, `--status-file=${status}`, `--pid-file=${pidFile}`],
          { FAIL_GENS: "2 3", TERM_DELAY: "0.3" }
        )
        await waitForStatus(status, /^1:\d+\n$/)
        const pidFileContent = readIfExists(pidFile)
        server.kill("SIGHUP")
        await waitForStatus(status, /^4:\d+\n$/, 15_000)
        server.kill("SIGTERM")
        const exit = await server.exited
        watch.stop()
        return {
          exit,
          pidFileContent,
          serverPid: server.pid,
          statuses: watch.seen().map(normalizeStatus),
          log: normalizeLog(server.lines()),
          filesLeft: [pidFile, status].filter(exists)
        }
      })
      for (const impl of impls) {
        const run = runs[impl]
        context.expect(run.pidFileContent, impl).toBe(`${run.serverPid}\n`)
        context.expect(run.exit, impl).toEqual({ code: 0, signal: null })
        context.expect(run.filesLeft, impl).toEqual([])
      }
      context.expect(runs.perl.statuses).toEqual(["1:PID\n", "1:PID\n4:PID\n", "4:PID\n"])
      context.expect(runs.ours.statuses).toEqual(runs.perl.statuses)
      context
        .expect(runs.perl.log)
        .toEqual([
          "start_server (pid:PID) starting now...",
          "starting new worker PID",
          "received HUP, spawning a new worker",
          "starting new worker PID",
          "new worker PID seems to have failed to start, exit status:768",
          "starting new worker PID",
          "new worker PID seems to have failed to start, exit status:768",
          "starting new worker PID",
          "new worker is now running, sending TERM to old workers:PID",
          "killing old workers",
          "old worker PID died, status:0",
          "received TERM, sending TERM to all workers:PID",
          "worker PID died, status:0",
          "exiting"
        ])
      context.expect(runs.ours.log).toEqual(runs.perl.log)
    })

    // ---------------------------------------------------------------------------------------
    // 3. Error paths: stderr modulo Perl's location suffix, and exit codes
    // ---------------------------------------------------------------------------------------
    describe.concurrent("error paths", () => {
      let busyServer: net.Server | undefined
      let busy = 0
      beforeAll(async () => {
        busyServer = net.createServer()
        await new Promise<void>((resolve) => busyServer?.listen(0, "127.0.0.1", resolve))
        busy = (busyServer.address() as net.AddressInfo).port
      })
      afterAll(() => new Promise<void>((resolve) => (busyServer ? busyServer.close(() => resolve()) : resolve())))

      interface ErrorCase {
        readonly name: string
        readonly args: (dir: string) => ReadonlyArray<string>
        readonly code: number
        /** Perl's stderr, normalised; ours must be the same. */
        readonly stderr: ReadonlyArray<string>
        /** Where ours diverges on purpose (docs/compatibility.md). */
        readonly ours?: ReadonlyArray<string>
      }
      const staleDir = tempDir()
      const stalePid = path.join(staleDir, "stale.pid")
      fs.writeFileSync(stalePid, "999999\n")
      const starting = "start_server (pid:PID) starting now..."
      const cases: ReadonlyArray<ErrorCase> = [
        {
          name: "busy port",
          args: (dir) => [
            `--port=127.0.0.1:${busy}`,
            `--pid-file=${dir}/pid`,
            `--status-file=${dir}/status`,
            "--",
            "sleep",
            "5"
          ],
          code: 98,
          stderr: [starting, "failed to bind to 127.0.0.1:BUSY:Address already in use"]
        },
        {
          name: "--port=abc",
          args: () => ["--port=abc", "--", "sleep", "5"],
          code: 255,
          stderr: [starting, "invalid ``port'' value:abc"],
          // docs/compatibility.md: a bad option is refused before anything starts.
          ours: ["invalid ``port'' value:abc"]
        },
        {
          name: "unresolvable host",
          args: () => ["--port=no.such.host.invalid:80", "--", "sleep", "5"],
          code: 255,
          stderr: [starting, "failed to resolve host:no.such.host.invalid:"]
        },
        {
          name: "space between host and ':' (Perl keeps it in the host)",
          args: () => ["--port= 127.0.0.1 : 1 ", "--", "sleep", "5"],
          code: 255,
          stderr: [starting, "failed to resolve host:127.0.0.1 :"]
        },
        {
          name: "empty host (--port=:8080)",
          args: () => ["--port=:8080", "--", "sleep", "5"],
          code: 255,
          stderr: [starting, "failed to resolve host::"]
        },
        { name: "no program", args: () => ["--port=18096"], code: 255, stderr: ["server program not specified"] },
        { name: "unknown option", args: () => ["--foo", "--", "sleep", "5"], code: 1, stderr: ["Unknown option: foo"] },
        {
          name: "bad integer",
          args: () => ["--interval=abc", "--", "sleep", "5"],
          code: 1,
          stderr: ['Value "abc" invalid for option interval (number expected)']
        },
        {
          name: "value given to a flag",
          args: () => ["--enable-auto-restart=1", "--", "sleep", "5"],
          code: 1,
          stderr: ["Option enable-auto-restart does not take an argument"]
        },
        {
          name: "ambiguous abbreviation in permute mode",
          args: () => ["--port=18096", "plackup", "-s", "Starlet"],
          code: 1,
          stderr: ["Option s is ambiguous (signal-on-hup, signal-on-term, status-file, stop)"]
        },
        {
          name: "--daemonize without --log-file",
          args: () => ["--daemonize", "--", "sleep", "5"],
          code: 255,
          stderr: ["Usage: --log-file option must be specified together with --deamonize"]
        },
        {
          name: "--restart without --status-file",
          args: (dir) => ["--restart", `--pid-file=${dir}/pid`],
          code: 255,
          stderr: ["--restart option requires --pid-file and --status-file to be set as well"]
        },
        {
          name: "--restart with a missing pid file",
          args: () => ["--restart", "--pid-file=/nonexistent/start_server.pid", "--status-file=/nonexistent/status"],
          code: 2,
          stderr: ["failed to open file:/nonexistent/start_server.pid:No such file or directory"]
        },
        {
          name: "--stop without --pid-file",
          args: () => ["--stop"],
          code: 255,
          stderr: ["--stop option requires --pid-file to be set as well"]
        },
        {
          name: "--stop with a missing pid file",
          args: () => ["--stop", "--pid-file=/nonexistent/start_server.pid"],
          code: 2,
          stderr: ["failed to open file:/nonexistent/start_server.pid:No such file or directory"]
        },
        {
          name: "a --log-file that cannot be opened (before anything is printed)",
          args: () => ["--log-file=/nonexistent/x.log", "--port=127.0.0.1:0", "--", "sleep", "5"],
          code: 2,
          stderr: ["failed to open log file:/nonexistent/x.log: No such file or directory"]
        },
        {
          name: "a --log-file pipe whose program is missing",
          args: () => ["--log-file=| /nonexistent/logger -t x", "--port=127.0.0.1:0", "--", "sleep", "5"],
          code: 2,
          // Perl warns `Can't exec "/nonexistent/logger"` first (left out: its wording is perl's own).
          stderr: ["failed to open pipe:| /nonexistent/logger -t x: No such file or directory"]
        },
        {
          name: "a bind error with --log-file still reaches the terminal",
          args: (dir) => [`--log-file=${dir}/log`, `--port=127.0.0.1:${busy}`, "--", "sleep", "5"],
          code: 98,
          stderr: [starting, "failed to bind to 127.0.0.1:BUSY:Address already in use"]
        },
        {
          name: "a --path in a missing directory",
          args: () => ["--path=/nonexistent/x.sock", "--", "sleep", "5"],
          code: 2,
          stderr: [starting, "failed to listen to file /nonexistent/x.sock:No such file or directory"]
        },
        {
          name: "a --pid-file in a missing directory",
          args: () => ["--port=127.0.0.1:0", "--pid-file=/nonexistent/x.pid", "--", "sleep", "5"],
          code: 2,
          stderr: [starting, "failed to open file:/nonexistent/x.pid: No such file or directory"]
        },
        {
          name: "--stop with a stale pid",
          args: () => ["--stop", `--pid-file=${stalePid}`],
          code: 3,
          stderr: [
            "stop_server (pid:PID) stopping now (pid:PID)...",
            "failed to send SIGTERM to the server process:No such process"
          ]
        }
      ]

      for (const errorCase of cases) {
        it(`${errorCase.name}: exit ${errorCase.code}, same stderr`, async (context) => {
          const runs = await both(async (impl) => {
            const dir = tempDir()
            const result = await runProbed(binOf(impl), errorCase.args(dir))
            return {
              code: result.code,
              stderr: normalizeLog(result.stderr)
                .filter((l) => !l.startsWith("Can't exec "))
                .map((l) => l.replaceAll(String(busy), "BUSY")),
              filesLeft: ["pid", "status"].filter((f) => exists(path.join(dir, f)))
            }
          })
          context.expect(runs.perl).toEqual({ code: errorCase.code, stderr: errorCase.stderr, filesLeft: [] })
          context.expect(runs.ours).toEqual({ ...runs.perl, stderr: errorCase.ours ?? runs.perl.stderr })
        })
      }

      it("--help: Perl's usage text verbatim, then ours", async (context) => {
        const runs = await both(async (impl) => {
          const server = startServer(["--help"], { bin: binOf(impl) })
          return { exit: await server.exited, stdout: server.stdout() }
        })
        context.expect(runs.perl.exit).toEqual({ code: 0, signal: null })
        context.expect(runs.ours.exit).toEqual({ code: 0, signal: null })
        context.expect(runs.perl.stdout).toMatch(/^Usage:/)
        context.expect(runs.ours.stdout.startsWith(runs.perl.stdout)).toBe(true)
      })

      // Intended divergence (quirk 7): Perl starts, then dies at the first restart with
      // `Unrecognized signal name "FOO"` (exit 25), orphaning its workers. Ours refuses at startup.
      it("unknown signal name: ours refuses at startup (Perl dies at the first restart)", async (context) => {
        const port = await freePort()
        const ours = await runProbed(binOf("ours"), [
          "--signal-on-hup=FOO",
          `--port=127.0.0.1:${port}`,
          "--",
          "sleep",
          "5"
        ])
        context.expect(ours.code).toBe(255)
        context.expect(ours.stderr.at(-1)).toBe('Unrecognized signal name "FOO"')
        context.expect(ours.stderr.some((l) => l.startsWith("starting new worker"))).toBe(false)
      })

      // Intended divergence: Perl reports every bad IPv6 literal as missing IPv6 support.
      it("invalid IPv6 literal: ours names it (Perl: `No support for IPv6…`)", async (context) => {
        const runs = await both(async (impl) => {
          const result = await runProbed(binOf(impl), ["--port=[fe80::zz]:80", "--", "sleep", "5"])
          return { code: result.code, stderr: normalizeLog(result.stderr) }
        })
        context.expect(runs.perl).toEqual({
          code: 255,
          stderr: [starting, "No support for IPv6. Please update Perl (or Perl modules)"]
        })
        context.expect(runs.ours).toEqual({ code: 255, stderr: [starting, "invalid IPv6 address in --port:fe80::zz"] })
      })
    })

    // ---------------------------------------------------------------------------------------
    // 4. Shutdown lines: TERM, INT (always TERM to workers), --signal-on-term
    // ---------------------------------------------------------------------------------------
    describe.concurrent("shutdown", () => {
      const shutdown = (
        context: TestContext,
        signal: NodeJS.Signals,
        extraArgs: ReadonlyArray<string>,
        trapUsr1: boolean
      ) =>
        both(async (impl) => {
          const dir = tempDir()
          const out = path.join(dir, "report")
          const mark = path.join(dir, "usr1")
          const port = await freePort()
          const server = launch(context, impl, [`--port=127.0.0.1:${port}`, ...extraArgs], {
            PARITY_OUT: out,
            ...(trapUsr1 ? { USR1_MARK: mark } : {})
          })
          // The report is written after the worker installed its handlers.
          await waitForReport(out)
          server.kill(signal)
          const exit = await server.exited
          const lines = server.lines()
          const workerPid = /^starting new worker (\d+)$/.exec(
            lines.find((l) => l.startsWith("starting new")) ?? ""
          )?.[1]
          return { exit, log: normalizeLog(lines), raw: lines, workerPid, usr1: exists(mark) }
        })

      const expectShutdown = (
        context: TestContext,
        runs: Awaited<ReturnType<typeof shutdown>>,
        tail: ReadonlyArray<string>
      ) => {
        for (const impl of impls) {
          const run = runs[impl]
          context.expect(run.exit, impl).toEqual({ code: 0, signal: null })
          context.expect(run.log.slice(-3), impl).toEqual(tail)
          context.expect(run.raw.at(-3), impl).toMatch(new RegExp(`:${run.workerPid}$`))
        }
        context.expect(runs.ours.log).toEqual(runs.perl.log)
      }

      it("TERM sends TERM to all workers and exits 0", async (context) => {
        const runs = await shutdown(context, "SIGTERM", [], false)
        expectShutdown(context, runs, [
          "received TERM, sending TERM to all workers:PID",
          "worker PID died, status:15",
          "exiting"
        ])
      })

      it("INT sends TERM, even with --signal-on-term=USR1", async (context) => {
        const runs = await shutdown(context, "SIGINT", ["--signal-on-term=USR1"], false)
        expectShutdown(context, runs, [
          "received INT, sending TERM to all workers:PID",
          "worker PID died, status:15",
          "exiting"
        ])
      })

      it("--signal-on-term=USR1: TERM sends USR1 and the worker receives it", async (context) => {
        const runs = await shutdown(context, "SIGTERM", ["--signal-on-term=USR1"], true)
        expectShutdown(context, runs, [
          "received TERM, sending USR1 to all workers:PID",
          "worker PID died, status:0",
          "exiting"
        ])
        context.expect(runs.ours.usr1).toBe(true)
        context.expect(runs.perl.usr1).toBe(true)
      })
    })

    it("--enable-auto-restart: workers started after the first see AUTO_RESTART_INTERVAL=360", async (context) => {
      const runs = await both(async (impl) => {
        const dir = tempDir()
        const seen = path.join(dir, "seen")
        const server = startServer(
          [
            "--enable-auto-restart",
            "--kill-old-delay=0",
            "--",
            "sh",
            "-c",
            `echo "$SERVER_STARTER_GENERATION \${AUTO_RESTART_INTERVAL-unset}" >> ${seen}; exec sleep 60`
          ],
          { bin: binOf(impl) }
        )
        context.onTestFinished(() => ensureStopped(server))
        await waitFor("generation 1", () => (readIfExists(seen)?.includes("1 ") ? true : undefined))
        await sleep(1200) // past its alive check: the main loop runs
        server.kill("SIGHUP")
        await waitFor("generation 2", () => (readIfExists(seen)?.includes("2 ") ? true : undefined))
        server.kill("SIGTERM")
        await server.exited
        return readIfExists(seen)
      })
      context.expect(runs.perl).toBe("1 unset\n2 360\n")
      context.expect(runs.ours).toBe(runs.perl)
    })

    it("envdir: KILL_OLD_DELAY written while running applies to the next HUP, and removed, no longer", async (context) => {
      const runs = await both(async (impl) => {
        const dir = tempDir()
        const envdir = path.join(dir, "env")
        fs.mkdirSync(envdir)
        const status = path.join(dir, "status")
        const port = await freePort()
        const server = launch(context, impl, [
          `--port=127.0.0.1:${port}`,
          `--status-file=${status}`,
          `--envdir=${envdir}`
        ])
        await waitForStatus(status, /^1:\d+\n$/)
        fs.writeFileSync(path.join(envdir, "KILL_OLD_DELAY"), "1\n")
        server.kill("SIGHUP")
        await waitForStatus(status, /^2:\d+\n$/, 15_000)
        fs.rmSync(path.join(envdir, "KILL_OLD_DELAY"))
        // Perl writes the status file in the loop iteration that read the envdir: a HUP that
        // came before that iteration ends would still see the file.
        await sleep(300)
        server.kill("SIGHUP")
        await waitForStatus(status, /^3:\d+\n$/, 15_000)
        server.kill("SIGTERM")
        await server.exited
        return normalizeLog(server.lines())
      })
      context.expect(runs.ours).toContain("sleeping 1 secs before killing old workers")
      context.expect(runs.ours.filter((l) => l.startsWith("sleeping")).length).toBe(1)
      context.expect(runs.ours).toEqual(runs.perl)
    })

    it("envdir: read when the loop wakes (the HUP), not while the new worker starts: a change then waits for the next", async (context) => {
      const runs = await both(async (impl) => {
        const dir = tempDir()
        const envdir = path.join(dir, "env")
        fs.mkdirSync(envdir)
        const status = path.join(dir, "status")
        const port = await freePort()
        const server = launch(context, impl, [
          `--port=127.0.0.1:${port}`,
          `--status-file=${status}`,
          `--envdir=${envdir}`,
          "--interval=2"
        ])
        await waitForStatus(status, /^1:\d+\n$/)
        server.kill("SIGHUP")
        // Generation 2 is in its 2 s alive check (Perl's start_worker): written now, Perl's
        // loop has not read it yet when it decides the delay for generation 1.
        await waitFor("generation 2 spawned", () =>
          server.lines().filter((l) => l.startsWith("starting new worker")).length === 2 ? true : undefined
        )
        fs.writeFileSync(path.join(envdir, "KILL_OLD_DELAY"), "1\n")
        await waitForStatus(status, /^2:\d+\n$/, 15_000)
        server.kill("SIGHUP")
        await waitForStatus(status, /^3:\d+\n$/, 15_000)
        server.kill("SIGTERM")
        await server.exited
        return normalizeLog(server.lines())
      })
      const sleeping = runs.ours.indexOf("sleeping 1 secs before killing old workers")
      context.expect(sleeping).toBeGreaterThan(runs.ours.lastIndexOf("received HUP, spawning a new worker"))
      context.expect(runs.ours.filter((l) => l.startsWith("sleeping")).length).toBe(1)
      context.expect(runs.ours).toEqual(runs.perl)
    })

    it("envdir: with auto-restart on, AUTO_RESTART_INTERVAL written at runtime applies within a second, no signal needed", async (context) => {
      const runs = await both(async (impl) => {
        const dir = tempDir()
        const envdir = path.join(dir, "env")
        fs.mkdirSync(envdir)
        const status = path.join(dir, "status")
        const server = launch(context, impl, [
          `--port=127.0.0.1:${await freePort()}`,
          `--status-file=${status}`,
          `--envdir=${envdir}`,
          "--enable-auto-restart",
          "--kill-old-delay=0"
        ])
        await waitForStatus(status, /^1:\d+\n$/)
        // The loop's alarm wakes it every second while auto-restart is on: it reads this.
        fs.writeFileSync(path.join(envdir, "AUTO_RESTART_INTERVAL"), "2\n")
        await server.waitForLine(/^autorestart triggered \(interval=2\)$/, 10_000)
        server.kill("SIGTERM")
        await server.exited
        const lines = normalizeLog(server.lines())
        return lines.slice(0, lines.indexOf("autorestart triggered (interval=2)") + 1)
      })
      context.expect(runs.ours).toEqual(runs.perl)
    })

    it("envdir: SIGALRM wakes the loop, which reads the envdir (auto-restart turned on there)", async (context) => {
      const runs = await both(async (impl) => {
        const dir = tempDir()
        const envdir = path.join(dir, "env")
        fs.mkdirSync(envdir)
        const status = path.join(dir, "status")
        const server = launch(context, impl, [
          `--port=127.0.0.1:${await freePort()}`,
          `--status-file=${status}`,
          `--envdir=${envdir}`
        ])
        await waitForStatus(status, /^1:\d+\n$/)
        for (const [name, value] of [
          ["ENABLE_AUTO_RESTART", "1"],
          ["AUTO_RESTART_INTERVAL", "1"],
          ["KILL_OLD_DELAY", "0"]
        ]) {
          fs.writeFileSync(path.join(envdir, name ?? ""), `${value}\n`)
        }
        await sleep(1000) // past the interval: the first wake after it restarts
        server.kill("SIGALRM")
        await server.waitForLine(/^autorestart triggered \(interval=1\)$/, 10_000)
        server.kill("SIGTERM")
        await server.exited
        // Afterwards Perl checks only when something else wakes it; ours keeps to the interval.
        const lines = normalizeLog(server.lines())
        return lines.slice(0, lines.indexOf("autorestart triggered (interval=1)") + 1)
      })
      context.expect(runs.ours).toEqual(runs.perl)
    })

    it("envdir and inherited values that are not UTF-8 reach the worker byte for byte, as under Perl", async (context) => {
      // Not UTF-8 alone; mixed with valid UTF-8 and with what the shell or printf could misread.
      const values = { VAR: "caf\xe9", MIXED: "\xc3\xa9\xff'%d\\\x80$x" }
      const runs = await both(async (impl) => {
        const dir = tempDir()
        const envdir = path.join(dir, "env")
        fs.mkdirSync(envdir)
        for (const [name, value] of Object.entries(values)) {
          fs.writeFileSync(path.join(envdir, name), Buffer.from(`${value}\n`, "latin1"))
        }
        const out = path.join(dir, "out")
        const script = `{ printf %s "$VAR" | od -An -tx1; printf %s "$MIXED" | od -An -tx1; printf %s "$INHERITED" | od -An -tx1; } > ${out}.tmp && mv ${out}.tmp ${out}; exec sleep 60`
        // start_server inherits one too: set through printf, as Node's spawn could not.
        const server = startServer(
          [
            "-c",
            `INHERITED="$(printf '\\376x')" exec "$0" "$@"`,
            binOf(impl),
            `--envdir=${envdir}`,
            "--",
            "sh",
            "-c",
            script
          ],
          { bin: "/bin/sh" }
        )
        context.onTestFinished(() => ensureStopped(server))
        const bytes = await waitFor("the worker's bytes", () => readIfExists(out))
        return bytes.trim().split(/\s+/).join(" ")
      })
      const hex = (value: string) =>
        [...Buffer.from(value, "latin1")].map((b) => b.toString(16).padStart(2, "0")).join(" ")
      context.expect(runs.perl).toBe(`${hex(values.VAR)} ${hex(values.MIXED)} fe 78`)
      context.expect(runs.ours).toBe(runs.perl)
    })

    // ---------------------------------------------------------------------------------------
    // 5. --stop, across implementations
    // ---------------------------------------------------------------------------------------
    it("--stop: ours stops Perl's server and ours, Perl's stops ours; each returns after the server exited", async (context) => {
      const pairs: ReadonlyArray<{ readonly stopper: Impl; readonly server: Impl }> = [
        { stopper: "ours", server: "perl" },
        { stopper: "perl", server: "ours" },
        { stopper: "ours", server: "ours" }
      ]
      const results = await Promise.all(
        pairs.map(async ({ stopper, server: serverImpl }) => {
          const dir = tempDir()
          const pidFile = path.join(dir, "pid")
          const out = path.join(dir, "report")
          const port = await freePort()
          // The worker lingers 1 s after TERM: --stop must wait for it.
          const server = launch(context, serverImpl, [`--port=127.0.0.1:${port}`, `--pid-file=${pidFile}`], {
            PARITY_OUT: out,
            TERM_DELAY: "1"
          })
          await waitForReport(out)
          await waitFor("pid file", () => (readIfExists(pidFile) === `${server.pid}\n` ? true : undefined))
          const stop = await runProbed(binOf(stopper), ["--stop", `--pid-file=${pidFile}`], () => ({
            pidFileLeft: exists(pidFile),
            serverEnded: processEnded(server.pid)
          }))
          const exit = await server.exited
          const label = `${stopper} --stop on ${serverImpl}'s server`
          return { label, stopper, server, stop, exit, log: normalizeLog(server.lines()) }
        })
      )
      for (const { label, stopper, server, stop, exit, log } of results) {
        context.expect(stop.code, label).toBe(0)
        context
          .expect(stop.stderr, label)
          .toEqual([`stop_server (pid:${stop.pid}) stopping now (pid:${server.pid})...`])
        context.expect(stop.elapsedMs, label).toBeGreaterThanOrEqual(900)
        // Perl's --stop returns when it gets the flock, which the server releases as it exits:
        // the pid file is gone by then, the process may still be on its way out.
        context
          .expect(stop.probed, label)
          .toEqual(
            stopper === "ours"
              ? { pidFileLeft: false, serverEnded: true }
              : { pidFileLeft: false, serverEnded: expect.any(Boolean) }
          )
        context.expect(exit, label).toEqual({ code: 0, signal: null })
        context
          .expect(log.slice(-3), label)
          .toEqual(["received TERM, sending TERM to all workers:PID", "worker PID died, status:0", "exiting"])
      }
    })

    // ---------------------------------------------------------------------------------------
    // 6. --restart, across implementations, with failing first attempts
    // ---------------------------------------------------------------------------------------
    it("--restart: ours returns once the new generation serves alone, even after a failed attempt, on either server", async (context) => {
      const dirs = { ours: tempDir(), perl: tempDir() }
      const files = (impl: Impl) => ({ pid: path.join(dirs[impl], "pid"), status: path.join(dirs[impl], "status") })
      // Generation 2 fails on both; generation 4 only on Perl's server (for Perl's own --restart below).
      const failGens: Record<Impl, string> = { ours: "2", perl: "2 4" }
      const servers = await both(async (impl) => {
        const port = await freePort()
        const server = launch(
          context,
          impl,
          [`--port=127.0.0.1:${port}`, `--pid-file=${files(impl).pid}`, `--status-file=${files(impl).status}`],
          { FAIL_GENS: failGens[impl] }
        )
        await waitForStatus(files(impl).status, /^1:\d+\n$/)
        return server
      })
      const restart = (stopper: Impl, target: Impl) => {
        const started = startProbed(
          binOf(stopper),
          ["--restart", `--pid-file=${files(target).pid}`, `--status-file=${files(target).status}`],
          () => normalizeStatus(readIfExists(files(target).status) ?? "<missing>")
        )
        context.onTestFinished(() => {
          if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill("SIGKILL")
        })
        return started
      }

      // Ours against both servers: generation 2 fails, 3 serves alone when --restart returns.
      const first = await both((target) => restart("ours", target).done)
      for (const impl of impls) {
        const label = `ours --restart on ${impl}'s server`
        context.expect(first[impl].code, label).toBe(0)
        context.expect(first[impl].stderr, label).toEqual([])
        context.expect(first[impl].probed, label).toBe("3:PID\n")
      }

      // Perl's --restart works against our server (generation 4 serves). Against its own server,
      // where generation 4 fails and 5 serves, it waits for exactly generation 4 forever (quirk 3).
      const perlOnOurs = restart("perl", "ours")
      const perlOnPerl = restart("perl", "perl")
      const onOurs = await perlOnOurs.done
      context.expect(onOurs.code, "perl --restart on our server").toBe(0)
      context.expect(onOurs.probed, "perl --restart on our server").toBe("4:PID\n")
      await waitForStatus(files("perl").status, /^5:\d+\n$/)
      // Perl polls every second: give it two polls that see generation 5 alone.
      await sleep(2200)
      context.expect(perlOnPerl.child.exitCode, "perl --restart on its own server still waiting").toBe(null)
      perlOnPerl.child.kill("SIGTERM")
      await perlOnPerl.done

      for (const impl of impls) {
        servers[impl].kill("SIGTERM")
        context.expect(await servers[impl].exited, impl).toEqual({ code: 0, signal: null })
      }
    })
  }
)
