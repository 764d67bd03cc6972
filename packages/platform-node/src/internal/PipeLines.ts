/** Lines from a pipe, for the two sides of `start_server upgrade`. */
import * as net from "node:net"

/**
 * Calls `onLine` for each line read from the pipe `fd`, then `onEnd`; closes it then. A libuv
 * stream, not fs.createReadStream: a read blocked in the thread pool would hang our exit.
 */
export const readLines = (fd: number, onLine: (line: string) => void, onEnd: () => void): net.Socket => {
  let buffer = ""
  const stream = new net.Socket({ fd, readable: true, writable: false })
  stream.setEncoding("utf8")
  stream.on("data", (chunk) => {
    buffer += String(chunk)
    for (let i = buffer.indexOf("\n"); i !== -1; i = buffer.indexOf("\n")) {
      onLine(buffer.slice(0, i))
      buffer = buffer.slice(i + 1)
    }
  })
  stream.once("close", onEnd)
  stream.on("error", () => {})
  return stream
}
