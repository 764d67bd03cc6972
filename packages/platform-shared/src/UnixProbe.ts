/**
 * "Does anything answer here?", asked before a socket file is replaced: a file a running
 * process listens on is never removed (its clients would lose it), only one left behind.
 */
import * as net from "node:net"
import * as Effect from "effect/Effect"
import { hasEscapes } from "./ByteEnv.js"

/** A connect refused or with nobody there: the file is left behind. Anything else (a full backlog: EAGAIN; EACCES) counts as in use. */
const nobodyThere = new Set(["ECONNREFUSED", "ENOENT"])

/** Whether something listens on the unix socket at `path` (a bare connect, closed at once, nothing sent). */
export const answers = (path: string): Effect.Effect<boolean> =>
  // A name that is not UTF-8 cannot be given to net.connect: taken as in use, never removed.
  hasEscapes(path)
    ? Effect.succeed(true)
    : Effect.async<boolean>((resume) => {
        const probe = net.connect(path)
        probe.once("connect", () => {
          probe.destroy()
          resume(Effect.succeed(true))
        })
        probe.once("error", (error: NodeJS.ErrnoException) =>
          resume(Effect.succeed(!nobodyThere.has(error.code ?? "")))
        )
      })
