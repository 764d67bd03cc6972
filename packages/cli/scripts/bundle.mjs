/**
 * Builds what `@starter/cli` ships: `bundle/`, an ESM bundle of the binary (and of the
 * library, `import { start } from "@starter/cli"`, with its types) with every
 * JavaScript dependency inside (effect, @effect/cli, our packages), split into chunks so that
 * each path loads only what it uses (`--version` and `--help` load one small chunk, the clients
 * never load the supervisor). koffi stays outside: it carries the native piece.
 *
 * STARTER_VERSION replaces the version `--version` prints, and STARTER_BUNDLE_OUTDIR the
 * output directory: the upgrade tests build a second binary that differs visibly.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const outdir = process.env.STARTER_BUNDLE_OUTDIR ?? path.join(cli, "bundle")
fs.rmSync(outdir, { recursive: true, force: true })

const { metafile } = await esbuild.build({
  // `bin`: the binary; `index`: `import { start } from "@starter/cli"` (they share chunks).
  entryPoints: { bin: path.join(cli, "src/bin.ts"), index: path.join(cli, "src/index.ts") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  // Our packages from their TypeScript sources, as the tests run them.
  conditions: ["@starter/source"],
  external: ["koffi"],
  minify: true,
  // Names stay readable in stack traces and in `Data.TaggedError` tags.
  keepNames: true,
  chunkNames: "[name]-[hash]",
  metafile: true,
  define:
    process.env.STARTER_VERSION === undefined
      ? {}
      : { __STARTER_VERSION__: JSON.stringify(process.env.STARTER_VERSION) },
  logLevel: "warning"
})

// The library's types: Api.ts holds declarations only, so it is a declaration file as it is.
fs.copyFileSync(path.join(cli, "src/Api.ts"), path.join(outdir, "index.d.ts"))

// Bun compiles BunLibc's C wrappers from this copy (`bun bin/start_server.js`).
fs.copyFileSync(path.join(cli, "../platform-bun/src/internal/libc.c"), path.join(outdir, "libc.c"))

// The bundle carries other packages' code, so it carries their licenses too.
const packageDirs = new Set()
for (const input of Object.keys(metafile.inputs)) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
  if (match !== null) packageDirs.add(path.resolve(match[1]))
}
const notices = [...packageDirs].sort().map((dir) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
  const licenseFile = fs.readdirSync(dir).find((name) => /^licen[cs]e/i.test(name))
  const text =
    licenseFile === undefined ? `License: ${manifest.license}` : fs.readFileSync(path.join(dir, licenseFile), "utf8")
  return `## ${manifest.name}@${manifest.version} (${manifest.license})\n\n${text.trim()}\n`
})
fs.writeFileSync(
  path.join(outdir, "THIRD_PARTY_LICENSES.md"),
  `# Third-party licenses\n\nThe bundle in this directory contains code from these packages.\n\n${notices.join("\n")}`
)
