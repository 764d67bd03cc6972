/**
 * Perl's Server::Starter and Starlet, the reference our behaviour is compared against, and
 * systemd's systemd-notify, an sd_notify client we did not write. CI installs them
 * (`.ci/run`) and sets STARTER_REQUIRE_PERL=1, so there a missing one is a failure, not a skip.
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

export const systemdNotify = "/usr/bin/systemd-notify"

/** Whether to skip the systemd-notify tests; throws when CI requires them. */
export const systemdNotifyMissing = (): boolean => {
  if (fs.existsSync(systemdNotify)) return false
  if (perlRequired) throw new Error("systemd-notify is not installed (apt-get install -y systemd)")
  return true
}
