#!/usr/bin/env node
/** The `start_server` binary: this process is the supervisor (its pid goes in --pid-file). */
import * as v8 from "node:v8"
import type * as EarlyListen from "@starter/platform-shared/EarlyListen"
import * as Either from "effect/Either"
import { isClientCommand } from "./CommandNames.js"
import { getopt, type Parsed } from "./Getopt.js"
import { usage, version } from "./Usage.js"

const argv = process.argv.slice(2)

// pnpm's bin shim prepends its store to NODE_PATH; workers must not inherit that.
const nodePath = process.env.NODE_PATH?.split(":").filter((dir) => !dir.endsWith("/node_modules/.pnpm/node_modules"))
if (nodePath !== undefined) {
  if (nodePath.length === 0) delete process.env.NODE_PATH
  else process.env.NODE_PATH = nodePath.join(":")
}

/** Whether this run is a supervisor (not a client, not `--help`): the long-lived process. */
const supervises = (parsed: Parsed): boolean =>
  !isClientCommand(argv[0]) &&
  parsed.program.length > 0 &&
  !["help", "version", "restart", "stop"].some((name) => parsed.options.get(name) === true)

/**
 * The `--port`s to bind before anything else loads: those of a supervisor in the foreground on
 * ports alone. A daemon, an upgrade's new supervisor or a socket-activated process inherits
 * its sockets, and a `--path` (a file to replace) waits for the supervisor's own checks.
 */
const portsToBindFirst = (parsed: Parsed): ReadonlyArray<string> | undefined => {
  const ports = parsed.options.get("port")
  const first =
    parsed.options.get("daemonize") !== true &&
    !parsed.options.has("path") &&
    process.env.STARTER_DAEMON_HANDOFF === undefined &&
    // A new supervisor (`start_server upgrade`) inherits every socket: binding would fail.
    process.env.STARTER_UPGRADE_HANDOFF === undefined &&
    process.env.LISTEN_PID !== String(process.pid)
  return first && Array.isArray(ports) && ports.length > 0 ? ports : undefined
}

/**
 * V8 settings for a process that idles for months: a 1 MB young generation instead of up to
 * 32 MB that only an idle-time collection, 30 s later, would give back; no optimising tiers
 * or regexp compilation, whose code and warm-up cost more than this light work ever gains.
 * Measured in bench/RESULTS.md. (`--jitless` would print a warning on every run under Node 20.)
 */
const supervisorFlags = "--semi-space-growth-factor=1 --no-opt --no-sparkplug --regexp-interpret-all"

// --help and --version answer before @effect/cli and the Node layers are loaded: scripts call
// `start_server --version` and expect it to be instant. A command's --help is the command's.
const quick = getopt(argv, process.env)
const flag = (name: string) =>
  !isClientCommand(argv[0]) && Either.isRight(quick) && quick.right.options.get(name) === true
if (flag("help")) process.stdout.write(usage)
else if (flag("version")) process.stdout.write(`${version}\n`)
else {
  let early: EarlyListen.EarlySockets | undefined
  if (Either.isRight(quick) && supervises(quick.right)) {
    // Node only: Bun runs JavaScriptCore, and its node:v8 has no flags to set.
    if (process.versions.bun === undefined) v8.setFlagsFromString(supervisorFlags)
    const ports = portsToBindFirst(quick.right)
    // The same backlog the supervisor's options take (`--backlog=0` means the default).
    if (ports !== undefined) {
      // Imported here: it loads Effect's data types, which `--help` and `--version` never need.
      const [EarlyListen, { libc }] = await Promise.all([
        import("@starter/platform-shared/EarlyListen"),
        import("./Runtime.js")
      ])
      early = EarlyListen.bind(libc, ports, Number(quick.right.options.get("backlog")) || undefined)
    }
  }
  const [{ main }, RunMain] = await Promise.all([import("./Main.js"), import("@starter/platform-shared/RunMain")])
  RunMain.runMain(main(argv, process.env, early))
}
