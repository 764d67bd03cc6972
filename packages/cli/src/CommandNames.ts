/**
 * The operator's command words (`start_server status`, …), alone: the binary's first lines
 * read them to tell a client from a supervisor before anything else loads.
 */
export const clientCommandNames = [
  "status",
  "restart",
  "stop",
  "scale",
  "signal",
  "events",
  "logs",
  "reopen-logs",
  "upgrade"
] as const

export type ClientCommandName = (typeof clientCommandNames)[number]

export const isClientCommand = (word: string | undefined): word is ClientCommandName =>
  (clientCommandNames as ReadonlyArray<string | undefined>).includes(word)
