/**
 * The scenarios of Server::Starter's own test suite (t/*.t of kazuho/p5-Server-Starter, as
 * listed in the spec's §19) that apply to a binary, run against our start_server with real
 * Perl workers. The others are in PerlParity.test.ts, side by side with Perl's own
 * start_server: t/10-bindaddr (`[127.0.0.1]:port`), t/14-without-port (an empty
 * SERVER_STARTER_PORT), t/15-udp, t/11-stop and t/12-stop (`--stop` waits), and the key of
 * every --port form. t/00, t/08 and t/09 test Perl internals (wait3, guards).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  freePort,
  isRunning,
  readIfExists,
  runToExit,
  startServer,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"
import { parityWorker } from "./support/Parity.js"
import { perlMissing } from "./support/Perl.js"

const track = trackSupervisors()

const launch = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const server = startServer(args, { env })
  track(server)
  return server
}

const status = (file: string) => readIfExists(file) ?? ""
const generationsOf = (file: string) =>
  status(file)
    .split("\n")
    .filter(Boolean)
    .map((l) => Number(l.split(":")[0]))

/** A Perl worker that appends "generation FOO" to $OUT, then sleeps until TERM. */
const envWorker = [
  "perl",
  "-e",
  'open my $f, ">>", $ENV{OUT}; print $f "$ENV{SERVER_STARTER_GENERATION} $ENV{FOO}\\n"; close $f; sleep 100'
]

describe.skipIf(perlMissing() !== undefined)("Server::Starter's own scenarios, with Perl workers", () => {
  it("t/01-starter: a new worker is up after the 1 s interval; HUP replaces it", async () => {
    const dir = tempDir()
    const file = path.join(dir, "status")
    const started = Date.now()
    const server = launch([`--port=127.0.0.1:${await freePort()}`, `--status-file=${file}`, "--", "perl", parityWorker])
    await waitFor("generation 1", () => (generationsOf(file).includes(1) ? true : undefined))
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
    const hup = Date.now()
    server.kill("SIGHUP")
    await waitFor("generation 2 alone", () => (status(file).match(/^2:\d+\n$/) ? true : undefined))
    // Not before the new worker has survived its interval (widened for a loaded CI box).
    expect(Date.now() - hup).toBeGreaterThanOrEqual(950)
  })

  it("t/02-startfail: generations 1, 3 and 4 fail; 2 and 5 serve; the old one serves meanwhile", async () => {
    const dir = tempDir()
    const file = path.join(dir, "status")
    const server = launch(
      [`--port=127.0.0.1:${await freePort()}`, `--status-file=${file}`, "--", "perl", parityWorker],
      { FAIL_GENS: "1 3 4" }
    )
    await waitFor("generation 2", () => (status(file).match(/^2:\d+\n$/) ? true : undefined), 15_000)
    const second = Number(status(file).split(":")[1])
    server.kill("SIGHUP")
    const failures = () => server.lines().filter((l) => l.endsWith("seems to have failed to start, exit status:768"))
    await waitFor("generation 3 to fail", () => (failures().length >= 2 ? true : undefined))
    // While generations 3 and 4 fail, generation 2 keeps serving.
    expect(status(file)).toBe(`2:${second}\n`)
    expect(isRunning(second)).toBe(true)
    await waitFor("generation 5 alone", () => (status(file).match(/^5:\d+\n$/) ? true : undefined), 15_000)
    expect(server.lines().filter((l) => l.includes("seems to have failed to start, exit status:768")).length).toBe(3)
    expect(isRunning(second)).toBe(false)
  })

  it("t/05-killolddelay: the old worker gets TERM only --kill-old-delay after the new one is up", async () => {
    const dir = tempDir()
    const file = path.join(dir, "status")
    const server = launch([
      `--port=127.0.0.1:${await freePort()}`,
      `--status-file=${file}`,
      "--kill-old-delay=2",
      "--",
      "perl",
      parityWorker
    ])
    await waitFor("generation 1", () => (status(file).match(/^1:\d+\n$/) ? true : undefined))
    const first = Number(status(file).split(":")[1])
    // Measured from the HUP, which this process knows exactly: a log line can reach it late
    // (under Bun by tens of ms), which would shorten any interval measured from the line.
    const hupAt = Date.now()
    server.kill("SIGHUP")
    await server.waitForLine(/^sleeping 2 secs before killing old workers$/)
    await new Promise((r) => setTimeout(r, 1500))
    expect(isRunning(first)).toBe(true)
    await waitFor("the old worker to exit", () => (isRunning(first) ? undefined : true))
    // The new worker is up after --interval (1 s), then --kill-old-delay (2 s).
    expect(Date.now() - hupAt).toBeGreaterThanOrEqual(2900)
    expect(server.lines()).toContain("killing old workers")
  })

  it("t/06-autorestart: a new generation about interval + auto-restart-interval after the last", async () => {
    const dir = tempDir()
    const file = path.join(dir, "status")
    const port = await freePort()
    // The lower bound is measured from before the launch, the upper from the first spawn's line:
    // a line that reaches this process late (under Bun by tens of ms) can shorten neither wrongly.
    const launchedAt = Date.now()
    const server = launch([
      `--port=127.0.0.1:${port}`,
      `--status-file=${file}`,
      "--enable-auto-restart",
      "--auto-restart-interval=2",
      "--kill-old-delay=0",
      "--",
      "perl",
      parityWorker
    ])
    await server.waitForLine(/^starting new worker \d+$/)
    const started = Date.now()
    await server.waitForLine(/^autorestart triggered \(interval=2\)$/, 10_000)
    // Upstream: spawn at 1 (interval) + 2 (auto-restart interval) seconds; widened for CI.
    expect(Date.now() - launchedAt).toBeGreaterThanOrEqual(2900)
    expect(Date.now() - started).toBeLessThan(5000)
    await waitFor("generation 2 alone", () => (status(file).match(/^2:\d+\n$/) ? true : undefined))
  })

  it("t/07-envdir: the envdir reaches the first worker and is re-read for the next", async () => {
    const dir = tempDir()
    const envdir = path.join(dir, "env")
    fs.mkdirSync(envdir)
    fs.writeFileSync(path.join(envdir, "FOO"), "foo-value1\n")
    const out = path.join(dir, "out")
    const server = launch(["--interval=1", `--envdir=${envdir}`, "--", ...envWorker], { OUT: out })
    await waitFor("generation 1", () => (readIfExists(out)?.includes("1 foo-value1") ? true : undefined))
    fs.writeFileSync(path.join(envdir, "FOO"), "foo-value2\n")
    server.kill("SIGHUP")
    await waitFor("generation 2", () => (readIfExists(out)?.includes("2 foo-value2") ? true : undefined))
  })

  it("t/11-specified-fd: --port=PORT=0 puts the socket at the worker's stdin", async () => {
    const dir = tempDir()
    const out = path.join(dir, "out")
    const port = await freePort()
    const check =
      'use Socket; my $n = getsockname(STDIN); my ($p) = unpack_sockaddr_in($n); open my $f, ">", $ENV{OUT}; print $f "$ENV{SERVER_STARTER_PORT} $p\\n"; close $f; sleep 100'
    launch([`--port=${port}=0`, "--", "perl", "-e", check], { OUT: out })
    // The file exists a moment before its line is in it.
    await waitFor("the report", () => (readIfExists(out)?.endsWith("\n") ? true : undefined))
    expect(readIfExists(out)).toBe(`${port}=0 ${port}\n`)
  })

  it("t/13-unix-daemonize: with --daemonize the socket outlives the foreground and goes away at --stop", async () => {
    const dir = tempDir()
    const sock = path.join(dir, "app.sock")
    const pidFile = path.join(dir, "pid")
    const started = await runToExit([
      "--daemonize",
      `--log-file=${dir}/log`,
      `--path=${sock}`,
      `--pid-file=${pidFile}`,
      "--",
      "perl",
      parityWorker
    ])
    expect(started.code).toBe(0)
    expect(fs.statSync(sock).isSocket()).toBe(true)
    const stopped = await runToExit(["--stop", `--pid-file=${pidFile}`])
    expect(stopped.code).toBe(0)
    expect(fs.existsSync(sock)).toBe(false)
    expect(fs.existsSync(pidFile)).toBe(false)
  })
})
