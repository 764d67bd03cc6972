/**
 * Helpers for running our start_server and Perl's side by side and comparing what an operator
 * sees: stderr lines modulo pids (and Perl's `at FILE line N.` suffix), file contents over
 * time, and what a worker received.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { commandFor, fixtures, readIfExists, repoRoot, sleep, startServerBin } from "./Harness.js"
import { perlStartServer } from "./Perl.js"

export type Impl = "ours" | "perl"
export const impls: ReadonlyArray<Impl> = ["ours", "perl"]

export const binOf = (impl: Impl): string => (impl === "ours" ? startServerBin : (perlStartServer ?? "start_server"))

export const parityWorker = path.join(fixtures, "parity-worker.pl")

/** Perl's `die` without a trailing newline appends ` at FILE line N.` (sometimes `, <$fh> line N.`). */
const perlSuffix = / at \/\S+ line \d+(?:, <\S+> line \d+)?\.$/
/** `croak` with a trailing newline puts the location on a line of its own. */
const perlLocationLine = /^ at \/\S+ line \d+\.$/

const pidPatterns: ReadonlyArray<RegExp> = [/(\(pid:)\d+(\))/g, /(worker )\d+(\b)/g]

/** Stderr lines as Perl would have printed them without locations, pids replaced by PID. */
/** Our one warning Perl never prints (docs/compatibility.md): a run with no socket at all. */
const noSocketWarning = /^no --port or --path: /

export const normalizeLog = (lines: ReadonlyArray<string>): Array<string> =>
  lines
    .filter((line) => !perlLocationLine.test(line) && !noSocketWarning.test(line))
    .map((line) => {
      let out = line.replace(perlSuffix, "")
      for (const pattern of pidPatterns) out = out.replace(pattern, "$1PID$2")
      return out.replace(
        /(workers:)([\d,]+)$/,
        (_, prefix: string, pids: string) =>
          `${prefix}${pids
            .split(",")
            .map(() => "PID")
            .join(",")}`
      )
    })

/** Status-file content with pids replaced: `1:123\n4:456\n` → `1:PID\n4:PID\n`. */
export const normalizeStatus = (content: string): string => content.replace(/^(\d+):\d+$/gm, "$1:PID")

/**
 * Records every distinct content a file goes through (polling every few ms), missing or
 * empty states left out: the transitions an operator's `cat` could observe.
 */
export const watchFile = (file: string, everyMs = 5) => {
  const seen: Array<string> = []
  const timer = setInterval(() => {
    const content = readIfExists(file)
    if (content !== undefined && content !== "" && seen[seen.length - 1] !== content) seen.push(content)
  }, everyMs)
  return {
    seen: (): ReadonlyArray<string> => seen,
    stop: () => clearInterval(timer)
  }
}

/** True when the process no longer runs: gone from /proc, or a zombie not yet reaped. */
export const processEnded = (pid: number): boolean => {
  const stat = readIfExists(`/proc/${pid}/stat`)
  if (stat === undefined) return true
  // The state letter follows the parenthesised command name, which may contain spaces.
  return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
}

/** What the parity worker wrote about itself (PARITY_OUT). */
export interface WorkerReport {
  readonly serverStarterPort: string
  readonly generation: string
  /** `fd → "127.0.0.1:8080 stream blocking"` as the worker saw it through getsockname. */
  readonly sockets: ReadonlyMap<string, string>
}

export const parseReport = (content: string): WorkerReport => {
  const lines = content.split("\n")
  const value = (prefix: string) => lines.find((l) => l.startsWith(prefix))?.slice(prefix.length) ?? ""
  const sockets = new Map<string, string>()
  for (const line of lines) {
    const match = /^FD (\d+) (.*)$/.exec(line)
    if (match?.[1] !== undefined && match[2] !== undefined) sockets.set(match[1], match[2])
  }
  return { serverStarterPort: value("PORT="), generation: value("GEN="), sockets }
}

/** `a=4;b=5` → [["a","4"],["b","5"]], split at the last `=` of each entry. */
export const portEntries = (serverStarterPort: string): Array<readonly [string, string]> =>
  serverStarterPort === ""
    ? []
    : serverStarterPort.split(";").map((entry) => {
        const at = entry.lastIndexOf("=")
        return [entry.slice(0, at), entry.slice(at + 1)] as const
      })

export interface Finished {
  readonly pid: number
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: ReadonlyArray<string>
  readonly elapsedMs: number
  /** What `probe` answered at the moment the process was reaped. */
  readonly probed: unknown
}

/**
 * Starts a command; `done` settles when it is reaped, with what `probe` answered at that
 * instant (called synchronously from the exit event, before any other event can run), to
 * check the state of the world the moment the command returned.
 */
export const startProbed = (
  bin: string,
  args: ReadonlyArray<string>,
  probe: () => unknown = () => undefined,
  env: Record<string, string | undefined> = {}
): { readonly child: ChildProcess; readonly done: Promise<Finished> } => {
  const started = Date.now()
  const [command, commandArgs] = commandFor(bin, args)
  const child = spawn(command, commandArgs, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const stderrDone = new Promise<void>((resolve) => child.stderr?.once("end", resolve))
  const done = new Promise<Finished>((resolve) =>
    child.once("exit", (code, signal) => {
      const probed = probe()
      const elapsedMs = Date.now() - started
      void Promise.race([stderrDone, sleep(500)]).then(() =>
        resolve({
          pid: child.pid ?? -1,
          code,
          signal,
          probed,
          elapsedMs,
          stderr: stderr.split("\n").filter((l) => l !== "")
        })
      )
    })
  )
  return { child, done }
}

export const runProbed = (
  bin: string,
  args: ReadonlyArray<string>,
  probe?: () => unknown,
  env?: Record<string, string | undefined>
): Promise<Finished> => startProbed(bin, args, probe, env).done

export const exists = (file: string): boolean => fs.existsSync(file)
