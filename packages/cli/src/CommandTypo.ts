/**
 * Ours: `start_server stauts --pid-file=…` names no program anyone has, but nearly names a
 * command. Perl would start a supervisor that prints `failed to exec stauts` every second,
 * for ever. A first program word close to a command, and not an executable on PATH, is
 * refused with one line. The PATH lookup runs only for such a word: every start pays for
 * one edit distance per command name, nothing more.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { clientCommandNames } from "./CommandNames.js"
import { distance } from "./Suggest.js"

/** How far a word may be from a command name to be taken for a typo of it. */
const maxDistance = 2

/** Whether `file` names an executable regular file. */
const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/** The PATH the worker gets: an envdir's `PATH` file wins over ours, as it would at spawn. */
const workerPath = (env: NodeJS.ProcessEnv, envdir: string | undefined): string => {
  const dir = envdir ?? env.ENVDIR
  if (dir !== undefined) {
    try {
      const line = fs.readFileSync(path.join(dir, "PATH"), "utf8").split("\n")[0] ?? ""
      if (line !== "") return line
    } catch {
      // no PATH file: the inherited one
    }
  }
  return env.PATH ?? ""
}

/** execvp's search: a name with a slash is a path; an empty PATH entry is the current directory. */
const onPath = (word: string, searchPath: string): boolean =>
  word.includes("/") ? true : searchPath.split(":").some((dir) => isExecutable(path.join(dir || ".", word)))

/** The one line refusing `program`'s first word, if it is a mistyped command. */
export const mistypedCommand = (
  program: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  envdir: string | undefined
): string | undefined => {
  const word = program[0]
  if (word === undefined || word.includes("/")) return undefined
  let near: { readonly name: string; readonly d: number } | undefined
  for (const name of clientCommandNames) {
    const d = distance(word.toLowerCase(), name)
    if (d <= maxDistance && (near === undefined || d < near.d)) near = { name, d }
  }
  if (near === undefined || onPath(word, workerPath(env, envdir))) return undefined
  return near.d === 0
    ? `unknown command "${word}" after the options (a command comes first: start_server ${near.name} …)`
    : `unknown command "${word}" (did you mean "${near.name}"?)`
}
