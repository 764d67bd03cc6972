/**
 * Where the client commands find the running supervisor's control socket, so that an
 * operator types as little as PM2 users do: `--control-socket`, else the environment,
 * else `start_server.sock` beside the `--pid-file`.
 */
import * as path from "node:path"
import type { CliOptions } from "./CliOptions.js"

export const environmentVariable = "START_SERVER_CONTROL_SOCKET"

/** The name looked for in the pid file's directory. */
export const besidePidFile = "start_server.sock"

export const resolve = (
  options: Pick<CliOptions, "controlSocket" | "pidFile">,
  env: { readonly [name: string]: string | undefined }
): string | undefined => {
  if (options.controlSocket !== undefined) return options.controlSocket
  const fromEnv = env[environmentVariable]
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv
  if (options.pidFile !== undefined) return path.join(path.dirname(options.pidFile), besidePidFile)
  return undefined
}
