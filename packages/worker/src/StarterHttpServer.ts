/**
 * An `@effect/platform` HttpServer on the socket start_server passed down: what
 * `NodeHttpServer.layer` is for a port, this is for an inherited fd, with what a worker
 * under start_server also needs.
 *
 * - It listens with start_server's backlog (Node would reset it to 511).
 * - A request that arrives before the app is served (between listen and `HttpServer.serve`)
 *   waits for it instead of hanging with no handler; once the app is served, readiness is
 *   reported (`ready()`), so that start_server retires the old generation only then.
 * - Shutdown drains (see GracefulShutdown): it runs before the app's handler is removed, so
 *   every request that reaches this worker is answered, the ones arriving during the drain
 *   with `Connection: close`.
 * - `NodeRuntime.runMain` shuts down on SIGTERM and SIGINT. If start_server stops this
 *   worker with another signal (`--signal-on-hup=USR1`), name it in `signal`; when the
 *   supervisor dies, the worker shuts down as well. Both raise SIGTERM for runMain.
 *
 * ```ts
 * const HttpLive = HttpRouter.empty.pipe(
 *   HttpRouter.get("/", HttpServerResponse.text("hello")),
 *   HttpServer.serve(),
 *   Layer.provide(StarterHttpServer.layer())
 * )
 * NodeRuntime.runMain(Layer.launch(HttpLive))
 * ```
 */
import * as http from "node:http"
import type * as net from "node:net"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type DrainOptions, track } from "./GracefulShutdown.js"
import { onSupervisorExit } from "./Lifeline.js"
import { defaultBacklog, type ListenOptions, streamPort } from "./Listen.js"
import { ready } from "./Ready.js"

export interface Options extends DrainOptions, ListenOptions {
  /** The SERVER_STARTER_PORT key to serve on; default: the only TCP or unix socket. */
  readonly key?: string
  /** A stop signal other than SIGTERM/SIGINT that start_server sends (`--signal-on-hup`). */
  readonly signal?: NodeJS.Signals
  /** Report readiness once the app is served (default true). */
  readonly reportReady?: boolean
}

type Handler = (request: http.IncomingMessage, response: http.ServerResponse) => void

const chooseFd = (options: Options): Effect.Effect<number, HttpServerError.ServeError> =>
  Effect.try({
    try: () => streamPort(options.key, options.env, "name one with `key`").fd,
    catch: (cause) => new HttpServerError.ServeError({ cause })
  })

/** Raises SIGTERM (for NodeRuntime.runMain) on `signal` and when the supervisor dies. */
const stopOn = (signal: NodeJS.Signals | undefined): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const terminate = () => void process.kill(process.pid, "SIGTERM")
      const custom = signal !== undefined && signal !== "SIGTERM" && signal !== "SIGINT" ? signal : undefined
      if (custom !== undefined) process.on(custom, terminate)
      const stopWatching = onSupervisorExit(terminate)
      return () => {
        if (custom !== undefined) process.off(custom, terminate)
        stopWatching?.()
      }
    }),
    (release) => Effect.sync(release)
  )

export const make = (
  options: Options = {}
): Effect.Effect<HttpServer.HttpServer, HttpServerError.ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    const fd = yield* chooseFd(options)
    const backlog = options.backlog ?? defaultBacklog(options.env)
    const server = http.createServer()
    const drainable = track(server)
    // Requests that arrive before the app is served wait here.
    const waiting: Array<Parameters<Handler>> = []
    const hold: Handler = (request, response) => void waiting.push([request, response])
    server.on("request", hold)
    // NodeHttpServer listens with `server.listen(options, callback)`, where Node ignores a
    // backlog given with `fd`: pass it as the argument Node does read.
    const listen = server.listen.bind(server)
    server.listen = ((listenOptions: object, callback: () => void) =>
      listen(listenOptions, backlog, callback)) as typeof server.listen
    // Node's typings omit `fd` from ListenOptions; `server.listen({ fd })` is documented.
    const inner = yield* NodeHttpServer.make(() => server, { fd } as net.ListenOptions)
    yield* stopOn(options.signal)
    return HttpServer.make({
      address: inner.address,
      serve: (app, middleware) =>
        Effect.gen(function* () {
          yield* middleware === undefined ? inner.serve(app) : inner.serve(app, middleware)
          const handler = server.listeners("request").at(-1) as Handler
          server.off("request", hold)
          for (const [request, response] of waiting.splice(0)) handler(request, response)
          // Added after the handler's own finalizer, so it runs first: drain while serving.
          yield* Effect.addFinalizer(() => Effect.promise(() => drainable.drain(options)))
          if (options.reportReady !== false) {
            // Unreported, start_server times the worker out (or, without --ready, ignores it).
            yield* Effect.tryPromise(() => ready(options.env)).pipe(
              Effect.catchAll((error) => Effect.logError(`cannot report readiness: ${error.cause}`))
            )
          }
        })
    })
  })

/** The HttpServer and the platform services NodeHttpServer.layer provides with it. */
export const layer = (options: Options = {}) =>
  Layer.mergeAll(Layer.scoped(HttpServer.HttpServer, make(options)), NodeHttpServer.layerContext)
