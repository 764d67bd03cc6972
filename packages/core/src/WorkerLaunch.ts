/**
 * How a worker is launched, decided entirely here: from the supervisor's state and the
 * spawn the machine asked for, the exact argv, environment and fd layout a platform hands
 * to its process API. Platforms do the I/O only.
 */
import * as FdLayout from "./FdLayout.js"
import * as Machine from "./Machine.js"
import type { SpawnRequest } from "./ProcessSpawner.js"
import type { SupervisorConfig } from "./SupervisorConfig.js"
import * as Tunables from "./Tunables.js"

/**
 * LISTEN_PID must be the worker's own pid, known only after fork: a shell sets it and
 * execs the program in place (same pid), the one case where a shell stands in between.
 */
const withListenPid = (argv: SupervisorConfig["argv"]): SupervisorConfig["argv"] => [
  "/bin/sh",
  "-c",
  'LISTEN_PID=$$; export LISTEN_PID; exec "$@"',
  "start_server",
  ...argv
]

/** The environment every worker gets, on top of the one start_server has (envdir included). */
const environment = (
  state: Machine.State,
  sockets: FdLayout.FdLayout,
  base: Readonly<Record<string, string>>,
  generation: number,
  index: number
): Record<string, string> => {
  const { config } = state
  // Perl's main loop does `$ENV{AUTO_RESTART_INTERVAL} ||= 360`: workers started once it
  // runs (after the first worker is up) see the interval in effect.
  const autoRestartInterval =
    config.autoRestart !== undefined &&
    (state.epoch > 1 || Machine.isRolledOut(state)) &&
    !Tunables.perlTrue(base.AUTO_RESTART_INTERVAL)
      ? { AUTO_RESTART_INTERVAL: String(config.autoRestart.intervalMs / 1000) }
      : {}
  // A STARTER_BACKLOG inherited by start_server itself is not about these sockets.
  const { STARTER_BACKLOG: _inherited, ...inherited } = base
  return {
    ...inherited,
    ...autoRestartInterval,
    SERVER_STARTER_PORT: sockets.serverStarterPort,
    SERVER_STARTER_GENERATION: String(generation),
    SERVER_STARTER_WORKER_INDEX: String(index),
    ...(sockets.backlog === undefined ? {} : { STARTER_BACKLOG: String(sockets.backlog) }),
    ...(config.listenFds ? FdLayout.systemdEnv(sockets, sockets.keys) : {})
  }
}

/** The spawn request for worker `index` of `generation`. */
export const request = (
  state: Machine.State,
  sockets: FdLayout.FdLayout,
  base: Readonly<Record<string, string>>,
  worker: { readonly generation: number; readonly index: number }
): SpawnRequest => {
  const { config } = state
  return {
    argv: config.listenFds ? withListenPid(config.argv) : config.argv,
    program: config.argv[0],
    env: environment(state, sockets, base, worker.generation, worker.index),
    cwd: config.cwd,
    fds: sockets.fds,
    readiness: config.readiness,
    processGroup: config.signalProcessGroup,
    generation: worker.generation,
    index: worker.index
  }
}
