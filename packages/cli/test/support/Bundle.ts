/** An embedding program (TypeScript, our packages from their sources) as one file that node runs. */
import * as esbuild from "esbuild"

/** Bundles `entry` into `outfile`, as the tests run our packages: from their sources. */
export const bundleProgram = async (entry: string, outfile: string): Promise<string> => {
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20.19",
    conditions: ["@starter/source"],
    external: ["koffi"],
    logLevel: "warning"
  })
  return outfile
}
