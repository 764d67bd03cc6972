/**
 * What start_server and its workers agree on: the variables naming a worker's fds and the
 * readiness messages. Its one home is here, in the package a worker installs, which depends on
 * nothing: the supervisor's packages import it from here, never the other way round.
 */

/** The variable that tells a `notify-fd` worker where to write `READY=1`. */
export const notifyFdVariable = "STARTER_NOTIFY_FD"

/**
 * The variable naming the worker's end of the lifeline: a pipe whose other end only the
 * supervisor holds, so reading it reaches EOF when the supervisor dies (even by SIGKILL).
 */
export const lifelineFdVariable = "STARTER_SUPERVISOR_FD"

/** The line a worker writes on its notify fd (and sends on NOTIFY_SOCKET) once it serves. */
export const readyLine = "READY=1"

/** What a worker sends on the IPC channel once it serves (objects `{ ready: true }` and `{ type: "ready" }` count too). */
export const readyMessage = "ready"

/** Whether a message on the IPC channel says the worker is ready. */
export const isReadyMessage = (message: unknown): boolean => {
  if (message === readyMessage) return true
  if (typeof message !== "object" || message === null) return false
  const { ready, type } = message as { ready?: unknown; type?: unknown }
  return ready === true || type === "ready"
}
