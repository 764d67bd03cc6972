/**
 * Port: the listening sockets. The supervisor creates them once, never accepts on them,
 * and keeps them open for its whole life; workers receive them as inherited fds.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ListenSpec } from "./ListenSpec.js"

/** A listening (TCP, unix) or bound (UDP) socket, held by the supervisor at `fd`. */
export interface BoundSocket {
  readonly spec: ListenSpec
  readonly fd: number
}

export interface ListenOptions {
  /** listen(2) backlog for TCP and unix sockets; `undefined` = the kernel's SOMAXCONN. */
  readonly backlog: number | undefined
  /** The permission bits of each `--path` socket file; `undefined` = Perl's 0777. */
  readonly pathMode?: number | undefined
}

/**
 * A socket could not be created. `errno` becomes the exit status, as Perl's `die` does
 * (EADDRINUSE → 98); `message` is the one line printed to stderr.
 */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly message: string
  readonly errno: number | undefined
}> {}

export class ListenSockets extends Context.Tag("@starter/core/ListenSockets")<
  ListenSockets,
  {
    /** Binds every spec in order; the sockets close when the scope closes (unix paths are unlinked). */
    readonly open: (
      specs: ReadonlyArray<ListenSpec>,
      options: ListenOptions
    ) => Effect.Effect<ReadonlyArray<BoundSocket>, ListenError, Scope.Scope>
  }
>() {}
