/**
 * Descriptors that whoever started start_server left open must not reach its workers (Perl
 * passes only what it means to: its sockets). At start every fd above 2 is marked
 * close-on-exec; what a worker is meant to have (its sockets, its readiness channel, its
 * lifeline) is placed in it explicitly at spawn, which close-on-exec does not affect.
 */
import * as fs from "node:fs"
import type * as Libc from "./Libc.js"

/** Marks every open fd above 2 close-on-exec. */
export const closeOnExec = (libc: Libc.Service): void => {
  let names: ReadonlyArray<string>
  try {
    names = fs.readdirSync("/proc/self/fd")
  } catch {
    return // no procfs: nothing to walk
  }
  for (const fd of names.map(Number).filter((fd) => fd > 2)) {
    try {
      libc.setCloexec(fd)
    } catch {
      // the directory's own fd, closed since it was listed
    }
  }
}
