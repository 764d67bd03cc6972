/**
 * Orphan safety. Our start_server gives every worker the read end of a pipe whose write end
 * only the supervisor holds (STARTER_SUPERVISOR_FD). Nothing is ever written to it: it
 * reaches EOF when the supervisor is gone, however it died (SIGKILL included), so a worker
 * learns that nobody will restart or stop it any more. Under Perl's start_server there is
 * no such pipe and nothing is ever reported.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import { lifelineFdVariable } from "./Protocol.js"

const listeners = new Set<() => void>()
let watching: net.Socket | undefined
let gone = false

const fire = () => {
  if (gone) return
  gone = true
  for (const listener of [...listeners]) listener()
}

/** The same pipe, opened again through /proc (non-blocking: the open itself never waits). */
const ownDescription = (fd: number): number => {
  try {
    return fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  } catch {
    return fd // no /proc: share the inherited one
  }
}

const watch = (env: NodeJS.ProcessEnv): boolean => {
  if (watching !== undefined) return true
  const fd = Number(env[lifelineFdVariable])
  if (!Number.isInteger(fd) || fd < 0) return false
  try {
    // A pipe becomes a libuv stream: EOF is an event, never a blocked thread. libuv makes its
    // fd non-blocking, and the inherited one is shared with every other worker (and their
    // children, which may read it blocking): watch a description of our own instead.
    watching = new net.Socket({ fd: ownDescription(fd), readable: true, writable: false })
  } catch {
    return false // not a pipe (closed or replaced by a wrapper): nothing to watch
  }
  watching.on("end", fire)
  watching.on("close", fire)
  watching.on("error", fire)
  watching.resume()
  // Watching must never keep a worker alive that is otherwise done.
  watching.unref()
  return true
}

/**
 * Calls `onExit` once the supervisor is gone. Answers a function that stops listening, or
 * `undefined` when this process has no lifeline (Perl's start_server, or not started by one).
 */
export const onSupervisorExit = (
  onExit: () => void,
  env: NodeJS.ProcessEnv = process.env
): (() => void) | undefined => {
  if (!watch(env)) return undefined
  if (gone) {
    queueMicrotask(onExit)
    return () => {}
  }
  listeners.add(onExit)
  return () => void listeners.delete(onExit)
}
