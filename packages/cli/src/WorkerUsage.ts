/**
 * A worker's memory and CPU as the kernel counts them, read by the client from /proc (it
 * runs on the supervisor's host): the supervisor need not poll anything for status.
 */
import * as fs from "node:fs"

export interface Usage {
  /** Resident set size, bytes. */
  readonly rssBytes: number
  /** User plus system CPU time, seconds. */
  readonly cpuSeconds: number
}

/** Linux's USER_HZ, the unit of /proc/PID/stat's times: 100 on every architecture Node runs on. */
const ticksPerSecond = 100

export const read = (pid: number): Usage | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name, which may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const utime = Number(fields[11])
    const stime = Number(fields[12])
    const rssKb = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
    return { rssBytes: Number(rssKb ?? 0) * 1024, cpuSeconds: (utime + stime) / ticksPerSecond }
  } catch {
    return undefined // gone, or another host's /proc
  }
}

export const formatBytes = (bytes: number): string =>
  bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(1)}G`
    : bytes >= 1024 ** 2
      ? `${(bytes / 1024 ** 2).toFixed(1)}M`
      : `${Math.round(bytes / 1024)}K`
