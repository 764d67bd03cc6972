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

/**
 * The largest message a worker may send on the IPC channel (`--ready=ipc`): a longer one is
 * read past and dropped, never held, so a worker cannot grow the supervisor's memory.
 */
export const maxIpcMessage = 64 * 1024

/** What a runtime feeds with the bytes read from the IPC channel. */
export interface IpcMessages {
  readonly push: (chunk: Uint8Array) => void
}

/**
 * Node's IPC framing with `serialization: "json"`: one JSON text per line (a newline inside a
 * string is escaped). Calls `onMessage` with each message of at most `maxIpcMessage` bytes
 * that parses; skips the rest.
 */
export const ipcMessages = (onMessage: (message: unknown) => void): IpcMessages => {
  let parts: Array<Uint8Array> = []
  let size = 0
  // Inside a message past the limit: everything up to its newline is dropped.
  let skipping = false
  const decoder = new TextDecoder()
  const finish = () => {
    const line = new Uint8Array(size)
    let offset = 0
    for (const part of parts) {
      line.set(part, offset)
      offset += part.length
    }
    parts = []
    size = 0
    try {
      onMessage(JSON.parse(decoder.decode(line)))
    } catch {
      // not JSON: not a message of ours
    }
  }
  const take = (piece: Uint8Array) => {
    if (skipping) return
    if (size + piece.length > maxIpcMessage) {
      parts = []
      size = 0
      skipping = true
      return
    }
    parts.push(piece)
    size += piece.length
  }
  return {
    push: (chunk) => {
      let start = 0
      for (let i = chunk.indexOf(10, start); i !== -1; i = chunk.indexOf(10, start)) {
        take(chunk.subarray(start, i))
        if (skipping) skipping = false
        else finish()
        start = i + 1
      }
      // A copy: the runtime may reuse its read buffer.
      if (start < chunk.length) take(chunk.slice(start))
    }
  }
}

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

/** One fd of the new worker: kept from the supervisor, closed, a new pipe, the IPC channel (a socket pair the spawner makes), or one of ours. */
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
      // A socket pair of ours (the spawner's), not the runtime's IPC: the runtime's reader
      // keeps any message however long. The worker's runtime finds it as Node's own channel.
      stdio[channelFd] = "ipc"
      env.NODE_CHANNEL_FD = String(channelFd)
      env.NODE_CHANNEL_SERIALIZATION_MODE = "json"
      return withLifeline(channelFd + 1, channelFd)
    case "SdNotify":
      if (notifySocket !== undefined) env.NOTIFY_SOCKET = notifySocket
      return withLifeline(channelFd, undefined)
    case "Interval":
    case "Probe":
      return withLifeline(channelFd, undefined)
  }
}
