/**
 * The supervisor's side of what start_server and its workers agree on: reading the notify
 * fd, and where each fd sits in a new worker (every runtime's spawner lays workers out with
 * `layout`). The names and messages themselves live in `@starter/worker/Protocol`, which a
 * worker installs without the supervisor's packages; they are re-exported here.
 */
import type { ProcessSpawner } from "@starter/core"
import { lifelineFdVariable, notifyFdVariable, readyLine } from "@starter/worker/Protocol"
import type { StreamName } from "./WorkerOutput.js"

export {
  isReadyMessage,
  lifelineFdVariable,
  notifyFdVariable,
  readyLine,
  readyMessage
} from "@starter/worker/Protocol"

/** A line longer than any notify message is noise: no more of it is kept. */
const maxNotifyLine = 4096

/** What a runtime feeds with the text read from a notify fd. */
export interface NotifyLines {
  readonly push: (chunk: string) => void
  /** The fd reached EOF. */
  readonly end: () => void
}

/** sd_notify-style lines on a stream; calls `onReady` at each `READY=1` (the caller keeps the first). */
export const notifyLines = (onReady: () => void): NotifyLines => {
  let pending = ""
  const check = (line: string) => {
    if (line === readyLine) onReady()
  }
  return {
    push: (chunk) => {
      const lines = (pending + chunk).split("\n")
      pending = (lines.pop() ?? "").slice(-maxNotifyLine)
      lines.forEach(check)
      // sd_notify writers often send `READY=1` with no newline and keep the fd open.
      check(pending)
    },
    end: () => check(pending)
  }
}

/** One fd of the new worker: kept from the supervisor, closed, a new pipe, Node's IPC, or one of ours. */
export type Slot = "inherit" | "ignore" | "pipe" | "ipc" | number

export interface Layout {
  /** Slot i is the worker's fd i. */
  readonly stdio: Array<Slot>
  readonly env: Record<string, string>
  /** Where the readiness channel sits in the worker, if the runtime provides one there. */
  readonly channelFd: number | undefined
}

/** A tagged worker's stdout or stderr: the pipe's read end is the supervisor's. */
export interface OutputPipe {
  readonly stream: StreamName
  readonly read: number
  readonly write: number
}

/**
 * fds 0-2 inherit the supervisor's unless a socket replaces them; fds between 3 and the
 * highest socket that carry nothing are closed in the worker ('ignore'). The readiness
 * channel takes the first fd after the sockets; an sd_notify socket is named in the
 * environment instead. The lifeline comes last.
 */
export const layout = (
  request: ProcessSpawner.SpawnRequest,
  lifeline: number,
  notifySocket: string | undefined,
  output: ReadonlyArray<OutputPipe>
): Layout => {
  const highest = request.fds.reduce((max, { childFd }) => Math.max(max, childFd), 2)
  const stdio: Array<Slot> = []
  for (let i = 0; i <= highest; i++) stdio.push(i < 3 ? "inherit" : "ignore")
  for (const { stream, write } of output) stdio[stream === "stdout" ? 1 : 2] = write
  for (const { childFd, fd } of request.fds) stdio[childFd] = fd
  const env = { ...request.env }
  const channelFd = highest + 1
  const withLifeline = (next: number, channel: number | undefined): Layout => {
    stdio[next] = lifeline
    env[lifelineFdVariable] = String(next)
    return { stdio, env, channelFd: channel }
  }
  // Only the worker's own channel: never one inherited from the supervisor's environment
  // (start_server may itself run under systemd, or as another start_server's worker).
  delete env.NOTIFY_SOCKET
  delete env[notifyFdVariable]
  switch (request.readiness._tag) {
    case "NotifyFd":
      stdio[channelFd] = "pipe"
      env[notifyFdVariable] = String(channelFd)
      return withLifeline(channelFd + 1, channelFd)
    case "Ipc":
      // The runtime announces the channel to the worker itself (NODE_CHANNEL_FD).
      stdio[channelFd] = "ipc"
      return withLifeline(channelFd + 1, channelFd)
    case "SdNotify":
      if (notifySocket !== undefined) env.NOTIFY_SOCKET = notifySocket
      return withLifeline(channelFd, undefined)
    case "Interval":
    case "Probe":
      return withLifeline(channelFd, undefined)
  }
}
