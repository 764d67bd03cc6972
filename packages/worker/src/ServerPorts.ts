/**
 * SERVER_STARTER_PORT: how start_server (ours or Perl's) tells a worker which sockets it
 * inherited. Entries `KEY=FD` are joined by `;`, e.g. `127.0.0.1:8080=3;/tmp/app.sock=4`.
 * A key is a port (`8080`), `host:port`, `[ipv6]:port` or a unix socket path; UDP ports look
 * like TCP ones (Perl drops the `u`). The empty string means no sockets at all.
 */

/** One inherited socket, in the order start_server listed them. */
export interface ServerPort {
  readonly key: string
  readonly fd: number
}

/** Perl's `server_ports()` dies with this message (its typo included) when the variable is unset. */
export class ServerStarterPortMissing extends Error {
  override readonly name = "ServerStarterPortMissing"
  constructor() {
    super("no environment variable SERVER_STARTER_PORT. Did you start the process using server_starter?")
  }
}

/** An entry that has no `=` or whose fd is not a number. */
export class InvalidServerStarterPort extends Error {
  override readonly name = "InvalidServerStarterPort"
  constructor(readonly entry: string) {
    super(`invalid SERVER_STARTER_PORT entry: ${JSON.stringify(entry)} (expected KEY=FD)`)
  }
}

/**
 * Parses the variable as Perl's `server_ports()` does: `split /;/`, then each entry split at
 * its first `=` (so a key never contains one). Empty entries are skipped, like the empty
 * fields Perl's `split` drops.
 */
export const parse = (value: string): ReadonlyArray<ServerPort> =>
  value
    .split(";")
    .filter((entry) => entry !== "")
    .map((entry) => {
      const eq = entry.indexOf("=")
      const fd = eq === -1 ? Number.NaN : Number(entry.slice(eq + 1))
      if (!Number.isInteger(fd) || fd < 0 || entry.slice(eq + 1).trim() === "")
        throw new InvalidServerStarterPort(entry)
      return { key: entry.slice(0, eq), fd }
    })

/** The variable for these entries; `parse(format(ports))` gives them back. */
export const format = (ports: ReadonlyArray<ServerPort>): string => ports.map(({ key, fd }) => `${key}=${fd}`).join(";")

/** The entries from the environment; throws ServerStarterPortMissing outside start_server. */
export const fromEnv = (env: NodeJS.ProcessEnv = process.env): ReadonlyArray<ServerPort> => {
  const value = env.SERVER_STARTER_PORT
  if (value === undefined) throw new ServerStarterPortMissing()
  return parse(value)
}

/**
 * Perl's `server_ports()`: key → fd. Bare-port keys like `8080` are integer-like, so an
 * object lists them first: use `fromEnv()` when the order matters.
 */
export const serverPorts = (env: NodeJS.ProcessEnv = process.env): Readonly<Record<string, number>> =>
  Object.fromEntries(fromEnv(env).map(({ key, fd }) => [key, fd]))

/** A unix socket path, not a TCP or UDP port (host names never contain `/`). */
export const isUnixPath = (key: string): boolean => key.includes("/") || !/^(?:\d+|.*:\d+)$/.test(key)
