/**
 * Concurrent HTTP load on loopback, bounded in count: half the clients open a connection
 * per request, half reuse keep-alive connections. Every request must succeed: a failure or
 * a reset is a request a user would have lost.
 */
import * as http from "node:http"

export interface LoadResult {
  readonly ok: number
  /** Requests that failed other than by a reset (status, timeout, refused). */
  readonly failed: ReadonlyArray<string>
  readonly reset: number
  /** The bodies' first lines: which workers answered. */
  readonly answeredBy: ReadonlySet<string>
}

export interface Load {
  /** Requests answered so far. */
  readonly ok: () => number
  /** Stops the clients after their current request and answers what they saw. */
  readonly stop: () => Promise<LoadResult>
}

const request = (port: number, path: string, agent: http.Agent | false) =>
  new Promise<string>((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent, timeout: 10_000 }, (res) => {
      let body = ""
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString()
      })
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}`))))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.on("timeout", () => req.destroy(new Error("timeout")))
  })

export const startLoad = (
  port: number,
  options: {
    readonly clients?: number
    readonly maxRequestsPerClient?: number
    readonly path?: string
    /** One request by client `i` (another protocol than HTTP/1 GET), answering the body. */
    readonly send?: (i: number) => Promise<string>
  } = {}
): Load => {
  const { clients = 8, maxRequestsPerClient = 5000, path = "/" } = options
  let stopping = false
  let ok = 0
  let reset = 0
  const failed: Array<string> = []
  const answeredBy = new Set<string>()
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: clients })
  const running = Array.from({ length: clients }, async (_, i) => {
    for (let n = 0; !stopping && n < maxRequestsPerClient; n++) {
      try {
        const body = await (options.send?.(i) ?? request(port, path, i % 2 === 0 ? false : keepAlive))
        answeredBy.add(body.split("\n")[0] ?? "")
        ok += 1
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ECONNRESET") reset += 1
        else failed.push(String(error))
      }
    }
  })
  return {
    ok: () => ok,
    stop: async () => {
      stopping = true
      await Promise.all(running)
      keepAlive.destroy()
      return { ok, failed, reset, answeredBy }
    }
  }
}
