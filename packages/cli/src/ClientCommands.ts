/**
 * The operator's commands, `start_server COMMAND [ARGS] [OPTIONS]`: each talks to the
 * running supervisor through its control socket, has `--help`, prints a readable answer (or
 * JSON with `--json`) and exits with a status a script can act on. Each command's module is
 * loaded only when it runs. CommandLine.ts defines each as an @effect/cli subcommand from
 * this table, its summary as the description.
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Effect from "effect/Effect"
import type { CliOptions } from "./CliOptions.js"
import type { ClientCommandName } from "./CommandNames.js"
import { notRunningExitCode } from "./ControlClient.js"
import * as ControlSocketPath from "./ControlSocketPath.js"
import type { ShortNames } from "./Getopt.js"
import { exitWithMessage, WrapperError } from "./PidFileReader.js"

export interface ClientCommand {
  readonly name: ClientCommandName
  /** After `start_server NAME`. */
  readonly args: string
  readonly summary: string
  readonly exitCodes: ReadonlyArray<readonly [number, string]>
  /** One-letter options this command's line takes, as `tail` has them. */
  readonly shortNames?: ShortNames
  readonly run: (options: CliOptions, args: ReadonlyArray<string>, socket: string) => Effect.Effect<number>
}

const usageError = 2
const common: ReadonlyArray<readonly [number, string]> = [
  [1, "the supervisor refused or failed (the reason on stderr)"],
  [usageError, "a usage error"],
  [notRunningExitCode, "start_server is not running (no control socket)"],
  [124, "no answer within --timeout"]
]

const load = <M>(module: () => Promise<M>, run: (m: M) => Effect.Effect<number>): Effect.Effect<number> =>
  Effect.flatMap(Effect.promise(module), run)

export const commands: NonEmptyReadonlyArray<ClientCommand> = [
  {
    name: "status",
    args: "",
    summary:
      "Shows the state, the serving generation, the last restart's outcome, and each worker's uptime, restarts, RSS and CPU.",
    exitCodes: [
      [0, "some worker serves"],
      [1, "no worker serves (starting, backing off, a crash loop)"],
      ...common.slice(1)
    ],
    run: (options, _args, socket) =>
      load(
        () => import("./StatusCommand.js"),
        (m) => m.status(options, socket)
      )
  },
  {
    name: "restart",
    args: "",
    summary:
      "Starts a new generation and waits until it serves alone (default --timeout 60s), then prints the outcome.",
    exitCodes: [
      [0, "the new generation is ready"],
      [10, "it failed; the old generation keeps serving"],
      [11, "a newer restart superseded it"],
      [12, "the server is stopping"],
      ...common
    ],
    run: (options, _args, socket) =>
      load(
        () => import("./RestartViaControl.js"),
        (m) => m.restartCommand(options, socket)
      )
  },
  {
    name: "stop",
    args: "",
    summary: "Stops the workers and the supervisor as TERM does, and returns once it has exited.",
    exitCodes: [[0, "stopped"], ...common],
    run: (options, _args, socket) =>
      load(
        () => import("./Stop.js"),
        (m) => m.stopCommand(options, socket)
      )
  },
  {
    name: "scale",
    args: "N",
    summary: "Runs N workers from now on (rolling: at most --max-surge new ones start at once).",
    exitCodes: [[0, "the supervisor took the new count"], ...common],
    run: (options, args, socket) =>
      load(
        () => import("./ControlCommands.js"),
        (m) => m.scale(options, args, socket)
      )
  },
  {
    name: "signal",
    args: "SIG",
    summary: "Sends signal SIG (a name such as USR2, or a number) to every worker.",
    exitCodes: [[0, "sent"], ...common],
    run: (options, args, socket) =>
      load(
        () => import("./ControlCommands.js"),
        (m) => m.signal(options, args, socket)
      )
  },
  {
    name: "events",
    args: "",
    summary: "Follows the lifecycle events (spawned, ready, signalled, exited, rollouts), one line each.",
    exitCodes: [[0, "the supervisor exited"], ...common],
    run: (options, _args, socket) =>
      load(
        () => import("./ControlCommands.js"),
        (m) => m.events(options, socket)
      )
  },
  {
    name: "logs",
    args: "[-f|--follow] [-n N|--lines=N]",
    summary:
      "Prints the last N lines of the log (default 10) from the supervisor's memory: its own lines and its workers' (which come through the supervisor whenever its control socket is on: as they are, or tagged with --log-format=json or --log-worker-tags). With -f, then prints each new line until the supervisor exits.",
    exitCodes: [[0, "printed (with -f: the supervisor exited)"], ...common],
    shortNames: { f: "follow", n: "lines" },
    run: (options, args, socket) =>
      load(
        () => import("./LogsCommand.js"),
        (m) => m.logs(options, args, socket)
      )
  },
  {
    name: "reopen-logs",
    args: "",
    summary:
      "Reopens --log-file at its path, as SIGWINCH does: run it after logrotate has renamed the file. A --log-file that is a pipe (| cmd) is left as it is.",
    exitCodes: [
      [0, "reopened, or nothing to reopen (a pipe, or no --log-file)"],
      [1, "the file could not be opened (the supervisor keeps writing to the old one)"],
      ...common.slice(1)
    ],
    run: (options, args, socket) =>
      load(
        () => import("./LogsCommand.js"),
        (m) => m.reopenLogs(options, args, socket)
      )
  },
  {
    name: "upgrade",
    args: "[--binary=PATH]",
    summary:
      "Replaces the supervisor itself with no connection refused: starts PATH (default: the program the running supervisor was started from) as a new supervisor on the same sockets, which starts the next generation; once that serves, the old supervisor retires its workers as a restart does, hands over the pid file, the status files and the control socket, and exits. If the new one fails, it is stopped and the old one keeps serving. SIGUSR2 does the same with the default program. --timeout (default 60s): how long the new generation may take to serve.",
    exitCodes: [
      [0, "the new supervisor serves (the old one has exited, or is retiring its workers)"],
      [10, "the new supervisor failed (the reason on stderr); the old one keeps serving"],
      [11, "refused for now: a rollout or another upgrade is in progress"],
      [12, "the server is stopping"],
      ...common
    ],
    run: (options, args, socket) =>
      load(
        () => import("./UpgradeCommand.js"),
        (m) => m.upgradeCommand(options, args, socket)
      )
  }
]

export const find = (name: string | undefined): ClientCommand | undefined => commands.find((c) => c.name === name)

export const help = (command: ClientCommand): string =>
  [
    `usage: start_server ${command.name}${command.args === "" ? "" : ` ${command.args}`} [--control-socket=PATH | --pid-file=PATH] [--json] [--timeout=DURATION]`,
    "",
    command.summary,
    "",
    `The control socket is --control-socket, else $${ControlSocketPath.environmentVariable}, else`,
    `${ControlSocketPath.besidePidFile} in the directory of --pid-file.`,
    "",
    "exit status:",
    ...command.exitCodes.map(([code, meaning]) => `  ${String(code).padEnd(4)}${meaning}`),
    ""
  ].join("\n")

/** Runs `command` once its socket is known; with none, the usage error says how to name it. */
export const run = (
  command: ClientCommand,
  options: CliOptions,
  args: ReadonlyArray<string>,
  env: { readonly [name: string]: string | undefined }
): Effect.Effect<number> => {
  const socket = ControlSocketPath.resolve(options, env)
  if (socket === undefined) {
    return exitWithMessage(
      Effect.fail(
        new WrapperError({
          message: `${command.name}: which start_server? Give --control-socket=PATH, set ${ControlSocketPath.environmentVariable}, or give --pid-file=PATH (the socket ${ControlSocketPath.besidePidFile} beside it)`,
          exitCode: usageError
        })
      )
    )
  }
  return command.run(options, args, socket)
}
