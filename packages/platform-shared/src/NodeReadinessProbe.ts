/**
 * `--ready=tcp:…`, `unix:…` and `http://…` (also `http://unix:SOCKET:PATH`): the supervisor probes the worker until the probe
 * succeeds. Attempts are 100 ms apart and each one is bounded by a second; `--ready-timeout`
 * bounds them all (the state machine's deadline).
 */
import type * as http from "node:http"
import * as net from "node:net"
import { Readiness } from "@starter/core"
import * as Effect from "effect/Effect"

export const attemptIntervalMs = 100
export const attemptTimeoutMs = 1000

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** `http://unix:/run/app.sock:/health` (got's convention): the socket and the request path. */
const unixTarget = (url: string): { socketPath: string; path: string } | {} => {
  const target = Readiness.httpUnixSocket(url)
  return target === undefined ? {} : { socketPath: target.socketPath, path: target.path }
}

/** One attempt: `undefined` when the probe passed, else why it did not. */
const attempt = (probe: Readiness.Probe): Promise<string | undefined> =>
  new Promise((resolve) => {
    const label = Readiness.formatProbe(probe)
    try {
      connect(probe, label, resolve)
    } catch (error) {
      // An address that expanded into nonsense (a port past 65535): a reason, not a crash.
      resolve(`${label}: ${describe(error)}`)
    }
  })

/** Starts one attempt; `resolve` hears how it went. */
const connect = (probe: Readiness.Probe, label: string, resolve: (why: string | undefined) => void): void => {
  if (probe._tag === "Http") {
    // Loaded by the first HTTP probe: http and tls cost an idle supervisor 3.5 MB.
    const client: Pick<typeof http, "get"> = process.getBuiltinModule(
      probe.url.startsWith("https:") ? "node:https" : "node:http"
    )
    const request = client.get(
      probe.url,
      { agent: false, timeout: attemptTimeoutMs, ...unixTarget(probe.url) },
      (response) => {
        response.resume()
        const code = response.statusCode ?? 0
        // Kubernetes' httpGet rule: any code from 200 to 399 is a success.
        resolve(code >= 200 && code < 400 ? undefined : `${label} answered HTTP ${code}`)
      }
    )
    request.on("timeout", () => request.destroy(new Error(`no answer within ${attemptTimeoutMs} ms`)))
    request.on("error", (error) => resolve(`${label}: ${describe(error)}`))
    return
  }
  const socket =
    probe._tag === "Tcp" ? net.connect({ host: probe.host, port: Number(probe.port) }) : net.connect(probe.path)
  socket.setTimeout(attemptTimeoutMs, () => socket.destroy(new Error(`no connection within ${attemptTimeoutMs} ms`)))
  socket.once("connect", () => {
    socket.destroy()
    resolve(undefined)
  })
  socket.once("error", (error) => resolve(`${label}: ${describe(error)}`))
}

/**
 * Probes until an attempt passes. `onFailure` hears why each failed attempt failed: the
 * supervisor reports the last one if the worker misses its deadline.
 */
export const untilReady = (probe: Readiness.Probe, onFailure: (why: string) => void): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (;;) {
      const why = yield* Effect.promise(() => attempt(probe))
      if (why === undefined) return
      onFailure(why)
      yield* Effect.sleep(attemptIntervalMs)
    }
  })
