/**
 * glibc's wording for a failed system call, which is what Perl's `$!` prints and what
 * scripts written against Perl's start_server match on ("Address already in use").
 */
import * as libc from "./internal/libc.js"

/** The errno of a Node system error (Node reports libuv's negated errno). */
export const errnoOf = (error: unknown): number | undefined => {
  const errno = typeof error === "object" && error !== null ? (error as { errno?: unknown }).errno : undefined
  return typeof errno === "number" && errno !== 0 ? Math.abs(errno) : undefined
}

/** strerror(3) of a Node system error; its message when it carries no errno. */
export const strerror = (error: unknown): string => {
  const errno = errnoOf(error)
  if (errno !== undefined) return libc.strerror(errno)
  return error instanceof Error ? error.message : String(error)
}
