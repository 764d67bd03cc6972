/**
 * TCP ports for tests that no other test can be handed at the same time. Binding port 0 and
 * releasing it is not enough: test files run in parallel processes (and other people's runs
 * on the same machine), and the kernel hands the same ephemeral ports to outgoing connections.
 * So ports come from below the kernel's ephemeral range, each one reserved by a file created
 * exclusively in a directory every test process shares, and checked free by binding it.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const reservations = path.join(os.tmpdir(), "starter-test-ports")

/** The kernel picks outgoing connections' ports from here; we never hand those out. */
const ephemeralLow = (): number => {
  const range = /^(\d+)\s+\d+/.exec(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8"))
  return Number(range?.[1] ?? 32768)
}

const low = 10_000
const high = ephemeralLow() - 1

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Reserves `port` for this process: a file named by the port, holding our pid, created with
 * O_EXCL. A reservation whose process is gone is taken over.
 */
const reserve = (port: number): boolean => {
  const file = path.join(reservations, String(port))
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" })
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    let owner: number
    try {
      owner = Number.parseInt(fs.readFileSync(file, "utf8"), 10)
    } catch {
      continue // released meanwhile: try again
    }
    // NaN: created but not written yet, so its owner is alive.
    if (Number.isNaN(owner) || owner === process.pid || isAlive(owner)) return false
    fs.rmSync(file, { force: true })
  }
  return false
}

/** Whether nothing listens on `port` on any local address. */
const bindable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)))
  })

// Each test process starts at its own place in the range, so processes rarely contend.
let next = low + Math.floor(Math.random() * (high - low + 1))

/** A port on 127.0.0.1 that is free now and that no other test process will be handed. */
export const freePort = async (): Promise<number> => {
  fs.mkdirSync(reservations, { recursive: true })
  for (let tried = 0; tried <= high - low; tried++) {
    const port = next
    next = next >= high ? low : next + 1
    if (reserve(port) && (await bindable(port))) return port
  }
  throw new Error(`no free port left in ${low}-${high}`)
}
