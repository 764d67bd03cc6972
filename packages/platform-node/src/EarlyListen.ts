/** `EarlyListen` with Node's libc: what the binary runs before it loads the supervisor. */
import * as EarlyListen from "@starter/platform-shared/EarlyListen"
import { libc } from "./NodeLibc.js"

export type EarlySockets = EarlyListen.EarlySockets

export const bind = (ports: ReadonlyArray<string>, backlog: number | undefined): EarlySockets | undefined =>
  EarlyListen.bind(libc, ports, backlog)
