/**
 * `import { start } from "@starter/cli"`: the supervisor for any Node program, as promises.
 * It runs `StarterLive` (Effect 3, inside the bundle) in a scope of its own; the application
 * sees only the plain types of `Api.ts`, so it needs no Effect, or another major of it.
 */
import type * as Core from "@starter/core"
import { Starter } from "@starter/core"
import { StarterLive } from "@starter/platform-node/StarterLive"
import * as NodeLogger from "@starter/platform-shared/NodeLogger"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Api from "./Api.js"

/**
 * What the plain options admit, core's admit too (core's durations also take Effect's
 * `Duration`); the status, the events and the outcomes below are checked against Api's.
 */
const toCore = (options: Api.StarterOptions): Core.StarterOptions => options

export class StarterError extends Error implements Api.StarterError {
  readonly reason: string
  readonly field: string | undefined
  readonly errno: number | undefined
  constructor(
    message: string,
    details: { readonly reason: string; readonly field?: string | undefined; readonly errno?: number | undefined }
  ) {
    super(message)
    this.name = "StarterError"
    this.reason = details.reason
    this.field = details.field
    this.errno = details.errno
  }
}

/** A typed failure keeps its one line and its tag; anything else (a defect) its message. */
const starterError = (cause: Cause.Cause<{ readonly _tag: string; readonly message: string }>): StarterError =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => new StarterError(Cause.pretty(cause).split("\n")[0] ?? "start_server failed", { reason: "Defect" }),
    onSome: (error) =>
      new StarterError(error.message, {
        reason: error._tag,
        field: "field" in error && typeof error.field === "string" ? error.field : undefined,
        errno: "errno" in error && typeof error.errno === "number" ? error.errno : undefined
      })
  })

const loggers = {
  text: NodeLogger.layer("text"),
  json: NodeLogger.layer("json"),
  none: Logger.replace(Logger.defaultLogger, Logger.none)
} as const

export const start: typeof Api.start = async (options, embed = {}) => {
  const logger = loggers[embed.log ?? "text"]
  /** Runs `effect` with the supervisor's logger, as a promise. */
  const run = <A>(effect: Effect.Effect<A>): Promise<A> => Effect.runPromise(Effect.provide(effect, logger))
  const scope = Effect.runSync(Scope.make())
  const built = await Effect.runPromiseExit(
    Layer.buildWithScope(StarterLive(toCore(options), { handleSignals: embed.handleSignals ?? false }), scope).pipe(
      Effect.provide(logger)
    )
  )
  if (Exit.isFailure(built)) {
    await run(Scope.close(scope, built))
    throw starterError(built.cause)
  }
  const supervisor = Context.get(built.value, Starter.Starter)
  let closing: Promise<void> | undefined
  const stop = (): Promise<void> => {
    closing ??= run(Scope.close(scope, Exit.void))
    return closing
  }
  /** Once stopped, a call is refused with a reason rather than left waiting. */
  const unlessStopped = async <A>(effect: Effect.Effect<A>): Promise<A> => {
    if (closing !== undefined) {
      throw new StarterError("start_server has stopped", { reason: "Stopped" })
    }
    return run(effect)
  }
  // A supervisor that stopped by itself (TERM with handleSignals) gives its sockets back too.
  const stopped = run(supervisor.exitCode).then(stop)
  const events: AsyncIterable<Api.StarterEvent> = {
    [Symbol.asyncIterator]: () => {
      // Subscribed now, so that nothing between this call and the first `next()` is missed.
      const subscription = Effect.runSync(Scope.make())
      const stream = Effect.runSync(Scope.extend(supervisor.subscribe, subscription))
      const iterator = Stream.toAsyncIterable(stream)[Symbol.asyncIterator]()
      const release = () => Effect.runPromise(Scope.close(subscription, Exit.void))
      return {
        next: async () => {
          const result = await iterator.next()
          if (result.done === true) await release()
          return result
        },
        return: async () => {
          await iterator.return?.()
          await release()
          return { done: true, value: undefined }
        }
      }
    }
  }
  return {
    restart: () => unlessStopped(supervisor.restartAndWait("control")),
    status: () => unlessStopped(supervisor.status),
    stop,
    events,
    stopped
  }
}
