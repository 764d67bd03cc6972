#!/usr/bin/env node
/** The `start_server` binary: this process is the supervisor (its pid goes in --pid-file). */
import * as Either from "effect/Either"
import { getopt } from "./Getopt.js"
import { usage, version } from "./Usage.js"

const argv = process.argv.slice(2)

// pnpm's bin shim prepends its store to NODE_PATH; workers must not inherit that.
const nodePath = process.env.NODE_PATH?.split(":").filter((dir) => !dir.endsWith("/node_modules/.pnpm/node_modules"))
if (nodePath !== undefined) {
  if (nodePath.length === 0) delete process.env.NODE_PATH
  else process.env.NODE_PATH = nodePath.join(":")
}

// --help and --version answer before @effect/cli and the Node layers are loaded (~0.5 s of
// module loading): scripts call `start_server --version` and expect it to be instant.
const quick = getopt(argv, process.env)
const flag = (name: string) => Either.isRight(quick) && quick.right.options.get(name) === true
if (flag("help")) process.stdout.write(usage)
else if (flag("version")) process.stdout.write(`${version}\n`)
else {
  const [{ main }, { NodeMain }] = await Promise.all([import("./Main.js"), import("@starter/platform-node")])
  NodeMain.runMain(main(argv, process.env))
}
