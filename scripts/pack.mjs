#!/usr/bin/env node
/**
 * `node scripts/pack.mjs DIR`: packs every publishable package with `pnpm pack` (which turns
 * `workspace:*` into versions), as `npm publish` would upload it, into DIR. Prints a JSON
 * object from package name to tarball path. The packages must be built (`pnpm build`).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const publishable = ["core", "platform-shared", "platform-node", "platform-bun", "worker", "cli"]

const destination = path.resolve(process.argv[2] ?? "")
if (process.argv[2] === undefined) {
  console.error("usage: node scripts/pack.mjs DIR")
  process.exit(2)
}
fs.mkdirSync(destination, { recursive: true })
const tarballs = {}
for (const dir of publishable) {
  const cwd = path.join(root, "packages", dir)
  const { name, version } = JSON.parse(fs.readFileSync(path.join(cwd, "package.json"), "utf8"))
  execFileSync("pnpm", ["pack", "--pack-destination", destination], { cwd, stdio: ["ignore", "ignore", "inherit"] })
  const file = path.join(destination, `${name.replace("@", "").replace("/", "-")}-${version}.tgz`)
  if (!fs.existsSync(file)) throw new Error(`pnpm pack wrote no ${file}`)
  tarballs[name] = file
}
console.log(JSON.stringify(tarballs))
