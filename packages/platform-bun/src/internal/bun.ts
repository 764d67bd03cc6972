/**
 * The part of Bun's global API that the Bun platform uses, typed here: Bun's own types would
 * replace Node's globals for the whole project. Read on first use, so importing is harmless
 * under Node.
 */
export type StdioSlot = "inherit" | "ignore" | "pipe" | number

export interface Subprocess {
  readonly pid: number
  readonly exitCode: number | null
  /** `SIGTERM`, … */
  readonly signalCode: string | null
  /** fd i's supervisor end: a number for a "pipe" slot after 2. */
  readonly stdio: ReadonlyArray<number | null | undefined>
  readonly kill: (signal?: string) => void
  readonly disconnect: () => void
}

export interface SpawnOptions {
  readonly cwd?: string | undefined
  readonly env: Record<string, string>
  readonly stdio: ReadonlyArray<StdioSlot>
  /** setsid: the child leads its own process group. */
  readonly detached?: boolean
  /** An IPC channel, placed after the stdio slots and announced as NODE_CHANNEL_FD. */
  readonly ipc?: (message: unknown) => void
  /** "json" speaks Node's IPC format. */
  readonly serialization?: "json"
  readonly onExit?: (process: Subprocess, exitCode: number | null, signalCode: string | null) => void
}

export interface Api {
  readonly spawn: (argv: ReadonlyArray<string>, options: SpawnOptions) => Subprocess
  readonly file: (fd: number) => { readonly stream: () => ReadableStream<Uint8Array> }
  /** Runs the garbage collector; `force`: a full, synchronous collection. */
  readonly gc: (force: boolean) => void
}

export const api = (): Api => (globalThis as unknown as { readonly Bun: Api }).Bun

/**
 * Reads `fd` (a pipe) to its end on Bun's event loop: `onChunk` for each read, `onEnd` at EOF
 * or error. `pause`/`resume` stop and restart reading; `cancel` stops for good.
 */
export const readFd = (
  fd: number,
  onChunk: (chunk: Uint8Array) => void,
  onEnd: () => void
): { readonly pause: () => void; readonly resume: () => void; readonly cancel: () => void } => {
  const reader = api().file(fd).stream().getReader()
  let paused = false
  let wake: (() => void) | undefined
  let cancelled = false
  const loop = async () => {
    try {
      for (;;) {
        if (paused) await new Promise<void>((resolve) => (wake = resolve))
        const { value, done } = await reader.read()
        if (done || cancelled) break
        onChunk(value)
      }
    } catch {
      // a broken pipe ends the stream like EOF
    }
    onEnd()
  }
  void loop()
  return {
    pause: () => {
      paused = true
    },
    resume: () => {
      paused = false
      wake?.()
      wake = undefined
    },
    cancel: () => {
      cancelled = true
      // A paused loop waits for `resume`: wake it, to end.
      wake?.()
      wake = undefined
      void reader.cancel().catch(() => {})
    }
  }
}
