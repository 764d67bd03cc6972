/**
 * Perl's Server::Starter and Starlet, the reference our behaviour is compared against.
 * CI installs them (`.ci/run`) and sets STARTER_REQUIRE_PERL=1, so there a missing Perl
 * is a failure, not a skip.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"

const which = (command: string): string | undefined => {
  try {
    return execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
}

// Not `command -v`: under `pnpm exec` our own start_server comes first on PATH.
export const perlStartServer = fs.existsSync("/usr/bin/start_server") ? "/usr/bin/start_server" : undefined
export const plackup = which("plackup")

export const perlRequired = process.env.STARTER_REQUIRE_PERL === "1"

/** Skip reason, or undefined when Perl's tools are here. Throws when CI requires them. */
export const perlMissing = (): string | undefined => {
  if (perlStartServer !== undefined && plackup !== undefined) return undefined
  const reason = "Perl's start_server/Starlet are not installed (apt-get install -y libserver-starter-perl starlet)"
  if (perlRequired) throw new Error(reason)
  return reason
}
