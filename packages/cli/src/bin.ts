#!/usr/bin/env node
/** The `start_server` binary: this process is the supervisor (its pid goes in --pid-file). */
import * as fs from "node:fs"
import { withArgumentBytes } from "@starter/platform-shared/ByteEnv"
import type * as EarlyListen from "@starter/platform-shared/EarlyListen"
import * as Either from "effect/Either"
import { isClientCommand } from "./CommandNames.js"
import { getopt, type Parsed } from "./Getopt.js"
import { usage, version } from "./Usage.js"

/** What execve received (Linux), for the bytes the runtime's argv lost. */
const cmdline = (): Buffer | undefined => {
  try {
    return fs.readFileSync("/proc/self/cmdline")
  } catch {
    return undefined
  }
}

// Arguments that are not UTF-8 keep their bytes (escaped, see ByteEnv), as under Perl.
const argv = withArgumentBytes(process.argv.slice(2), cmdline())

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
