#!/usr/bin/env node
/** The `start_server` binary: this process is the supervisor (its pid goes in --pid-file). */
import { NodeMain } from "@starter/platform-node"
import { main } from "./Main.js"

// pnpm's bin shim prepends its store to NODE_PATH; workers must not inherit that.
const nodePath = process.env.NODE_PATH?.split(":").filter((dir) => !dir.endsWith("/node_modules/.pnpm/node_modules"))
if (nodePath !== undefined) {
  if (nodePath.length === 0) delete process.env.NODE_PATH
  else process.env.NODE_PATH = nodePath.join(":")
}

NodeMain.runMain(main(process.argv.slice(2), process.env))
