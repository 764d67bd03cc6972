/**
 * Whether an inherited fd is a UDP socket. SERVER_STARTER_PORT cannot tell (Perl drops the
 * `u` from UDP keys), and Node has no public way to ask a socket its type; on Linux the
 * kernel lists the inode of every UDP socket in /proc/net/udp and udp6.
 */
import * as fs from "node:fs"

const udpInodes = (): Set<number> => {
  const inodes = new Set<number>()
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    let text: string
    try {
      text = fs.readFileSync(table, "utf8")
    } catch {
      continue
    }
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
    for (const line of text.split("\n").slice(1)) {
      const inode = line.trim().split(/\s+/)[9]
      if (inode !== undefined) inodes.add(Number(inode))
    }
  }
  return inodes
}

/** fds among `fds` that are UDP sockets (none where /proc/net is not available). */
export const udpSockets = (fds: ReadonlyArray<number>): ReadonlySet<number> => {
  const inodes = udpInodes()
  if (inodes.size === 0) return new Set()
  return new Set(
    fds.filter((fd) => {
      try {
        return inodes.has(fs.fstatSync(fd).ino)
      } catch {
        return false
      }
    })
  )
}
