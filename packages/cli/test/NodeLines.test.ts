/**
 * start_server on every Node line users run (issue 24): the binary, run by each line's official
 * binary, serves, restarts on HUP and stops on TERM. Under Node 26 a V8 flag set from inside the
 * running VM (`v8.setFlagsFromString("--regexp-interpret-all")`, as the binary once did) aborted
 * the supervisor at start: `Check failed: regexp_data->has_bytecode(is_one_byte)`.
 *
 * In the `cli` project this file runs the binary on each line explicitly; in a `cli-nodeNN`
 * project it checks that the matrix really runs that line (the `.bin` shim's `node` is found on
 * PATH), so a green matrix cannot be the machine's Node in disguise.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { installedNodeLines } from "../../../tools/node-lines/index.mjs"
import {
  freePort,
  get,
  nodeExecutable,
  repoRoot,
  startServer,
  statusLines,
  tempDir,
  trackSupervisors,
  waitFor
} from "./support/Harness.js"

const track = trackSupervisors()
const binary = path.join(repoRoot, "packages/cli/bin/start_server.js")
const worker = path.join(repoRoot, "examples/http-worker.mjs")

/** The generation and pid in the status file, once it lists exactly one generation. */
const serving = (status: string) => {
  const lines = statusLines(status)
  const [generation, pid] = lines.length === 1 ? (lines[0]?.split(":").map(Number) ?? []) : []
  return generation === undefined || pid === undefined ? undefined : { generation, pid }
}

/** Serves, restarts on HUP, exits 0 on TERM; `node` runs the supervisor and its worker. */
const lifecycle = async (node: string, viaShim: boolean) => {
  const port = await freePort()
  const status = path.join(tempDir(), "status")
  const args = [`--port=127.0.0.1:${port}`, `--status-file=${status}`, "--ready=notify-fd", "--", node, worker]
  const server = track(viaShim ? startServer(args) : startServer([binary, ...args], { bin: node }))
  // The supervisor is that Node's process: the shim (a shell script) execs it, nothing wraps it.
  const exe = await waitFor("the shim's exec", () => {
    const target = fs.readlinkSync(`/proc/${server.pid}/exe`)
    return path.basename(target) === "node" ? target : undefined
  })
  expect(exe).toBe(fs.realpathSync(node))
  const first = await waitFor("generation 1", () => (serving(status)?.generation === 1 ? serving(status) : undefined))
  expect(await get(port)).toBe(`hello from generation 1, pid ${first.pid}\n`)
  expect(fs.readlinkSync(`/proc/${first.pid}/exe`)).toBe(fs.realpathSync(node))
  server.kill("SIGHUP")
  const second = await waitFor("generation 2 alone", () =>
    serving(status)?.generation === 2 ? serving(status) : undefined
  )
  expect(await get(port)).toBe(`hello from generation 2, pid ${second.pid}\n`)
  server.kill("SIGTERM")
  expect(await server.exited).toEqual({ code: 0, signal: null })
  expect(server.lines().filter((line) => /Fatal error|Check failed/.test(line))).toEqual([])
}

describe.runIf(process.env.STARTER_NODE === undefined)("start_server on each Node line", () => {
  it.each(installedNodeLines())("$name: serves, restarts on HUP and exits 0 on TERM", async ({ executable }) => {
    await lifecycle(executable, false)
  })
})

describe.runIf(process.env.STARTER_NODE !== undefined)(`the matrix line (${process.env.STARTER_NODE})`, () => {
  it("runs ./node_modules/.bin/start_server and its workers on this line", async () => {
    await lifecycle(nodeExecutable, true)
  })
})
