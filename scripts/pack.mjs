#!/usr/bin/env node
/**
 * `node scripts/pack.mjs DIR [PACKAGE…]`: packs every publishable package (or those named by
 * their directory, `cli effect4`) with `pnpm pack` (which turns `workspace:*` into versions), as
 * `npm publish` would upload it, into DIR. Prints a JSON object from package name to tarball
 * path. The packages must be built (`pnpm build`).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const publishable = ["core", "platform-shared", "platform-node", "platform-bun", "worker", "cli", "effect4"]

const destination = path.resolve(process.argv[2] ?? "")
if (process.argv[2] === undefined) {
  console.error("usage: node scripts/pack.mjs DIR [PACKAGE…]")
  process.exit(2)
}
const named = process.argv.slice(3)
const unknown = named.filter((dir) => !publishable.includes(dir))
if (unknown.length > 0) {
  console.error(`not a publishable package: ${unknown.join(", ")} (one of ${publishable.join(", ")})`)
  process.exit(2)
}
fs.mkdirSync(destination, { recursive: true })
const tarballs = {}
for (const dir of named.length > 0 ? named : publishable) {
  const cwd = path.join(root, "packages", dir)
  const { name, version } = JSON.parse(fs.readFileSync(path.join(cwd, "package.json"), "utf8"))
  execFileSync("pnpm", ["pack", "--pack-destination", destination], { cwd, stdio: ["ignore", "ignore", "inherit"] })
  const file = path.join(destination, `${name.replace("@", "").replace("/", "-")}-${version}.tgz`)
  if (!fs.existsSync(file)) throw new Error(`pnpm pack wrote no ${file}`)
  tarballs[name] = file
}
console.log(JSON.stringify(tarballs))
