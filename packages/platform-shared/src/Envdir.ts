/**
 * daemontools-style envdir as Perl start_server reads it (`_load_env`, Starter.pm L498-511):
 * one variable per file, named by the file, valued by the file's first line.
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as ByteEnv from "./ByteEnv.js"

/** An environment with string values only, as a worker receives it. */
export type Env = Readonly<Record<string, string>>

/** Names `execve` cannot carry; Perl would pass them through and produce a garbled entry. */
const isValidName = (name: string): boolean => name.length > 0 && !name.includes("=") && !name.includes("\0")

/**
 * The longest value a worker could receive: Linux refuses (E2BIG) any environment string
 * longer than MAX_ARG_STRLEN, 32 pages. Only this much of a file is ever read, so a huge file
 * costs neither memory nor time (Perl reads its whole first line).
 */
const maxValueBytes = 32 * 4096

// One buffer for every read (they are synchronous): the envdir is re-read at every wake of the loop.
let scratch: Buffer | undefined

/**
 * The value a file contributes: its first line without the trailing newline (Perl `chomp`
 * strips `\n` only, so a `\r` stays); `undefined` for an empty file, which sets nothing.
 * A NUL ends the value, as it does in the C string Perl hands to `execve`.
 */
const readEntry = (file: string): string | undefined => {
  let fd: number
  try {
    // Non-blocking: opening a FIFO with no writer would block the supervisor for good.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY)
  } catch {
    // Unreadable entries (permissions, dangling links) are skipped, as in Perl.
    return undefined
  }
  try {
    // Only regular files: a FIFO, a device or a socket is skipped (Perl waits on a FIFO).
    if (!fs.fstatSync(fd).isFile()) return undefined
    scratch ??= Buffer.allocUnsafe(maxValueBytes)
    const buffer = scratch
    let length = 0
    let end = -1
    while (length < maxValueBytes && end === -1) {
      const n = fs.readSync(fd, buffer, length, Math.min(4096, maxValueBytes - length), null)
      if (n === 0) break
      end = buffer.subarray(length, length + n).findIndex((byte) => byte === 0x0a || byte === 0)
      if (end !== -1) end += length
      length += n
    }
    if (length === 0) return undefined
    // Bytes that are not UTF-8 are kept (escaped) and reach the worker unchanged, as in Perl.
    return ByteEnv.decode(buffer, 0, end === -1 ? length : end)
  } catch {
    // A subdirectory (EISDIR) and other unreadable entries are skipped, as in Perl.
    return undefined
  } finally {
    fs.closeSync(fd)
  }
}

const isDirectory = (dir: string): boolean => {
  try {
    return fs.statSync(dir).isDirectory()
  } catch {
    return false
  }
}

/**
 * The variables an envdir sets. A missing or unreadable directory sets nothing; entries whose
 * name starts with `.` are ignored.
 */
export const readEnvdir = (dir: string): Record<string, string> => {
  const result: Record<string, string> = {}
  if (!isDirectory(dir)) return result
  let names: Array<string>
  try {
    names = fs.readdirSync(dir)
  } catch {
    return result
  }
  for (const name of names.sort()) {
    if (name.startsWith(".") || !isValidName(name)) continue
    const value = readEntry(nodePath.join(dir, name))
    if (value !== undefined) result[name] = value
  }
  return result
}

/**
 * `base` with each overlay applied in order (later wins). `base` may be `process.env`:
 * its `undefined` values are dropped.
 */
export const overlay = (
  base: Readonly<Record<string, string | undefined>>,
  ...overlays: ReadonlyArray<Env>
): Record<string, string> => {
  const result: Record<string, string> = {}
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined) result[name] = value
  }
  for (const layer of overlays) Object.assign(result, layer)
  return result
}
