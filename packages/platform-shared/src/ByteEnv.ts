/**
 * Environment values and arguments that are not UTF-8, carried byte for byte. Perl passes
 * them unchanged; a JS string cannot hold them, Node decodes argv lossily and encodes every
 * argument and env string as UTF-8 at spawn. So, as Python's "surrogateescape" does, a byte
 * that is not part of valid UTF-8 becomes the lone surrogate U+DC80 + byte (which valid UTF-8
 * can never produce); a worker whose arguments or environment hold one is started through
 * `/bin/sh`, which rebuilds the bytes with `printf` and then execs the program in its own
 * place (same pid); a file name holding one is given to the file system as its bytes.
 */

const escapeBase = 0xdc00
const isEscape = (code: number) => code >= 0xdc80 && code <= 0xdcff

/** The length of the valid UTF-8 sequence at `i`, or 0 if the byte there starts none. */
const sequenceAt = (bytes: Uint8Array, i: number, end: number): number => {
  const b = bytes[i]!
  if (b < 0x80) return 1
  const [length, min] =
    b >= 0xc2 && b <= 0xdf
      ? [2, 0x80]
      : b >= 0xe0 && b <= 0xef
        ? [3, 0x800]
        : b >= 0xf0 && b <= 0xf4
          ? [4, 0x10000]
          : [0, 0]
  if (length === 0 || i + length > end) return 0
  let code = b & (0xff >> (length + 1))
  for (let k = 1; k < length; k++) {
    const c = bytes[i + k]!
    if ((c & 0xc0) !== 0x80) return 0
    code = (code << 6) | (c & 0x3f)
  }
  // Overlong forms, UTF-16 surrogates and code points beyond U+10FFFF are not valid UTF-8.
  return code < min || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff ? 0 : length
}

/** `bytes[start, end)` as a string: valid UTF-8 decoded, every other byte escaped. */
export const decode = (bytes: Buffer, start: number, end: number): string => {
  let out = ""
  let run = start
  for (let i = start; i < end; ) {
    const length = sequenceAt(bytes, i, end)
    if (length > 0) {
      i += length
      continue
    }
    out += bytes.toString("utf8", run, i) + String.fromCharCode(escapeBase + bytes[i]!)
    i += 1
    run = i
  }
  return out + bytes.toString("utf8", run, end)
}

/** Whether `value` holds bytes that only the shell can pass on. */
export const hasEscapes = (value: string): boolean => {
  for (let i = 0; i < value.length; i++) if (isEscape(value.charCodeAt(i))) return true
  return false
}

/** The bytes `value` stands for: escapes back to their byte, the rest as UTF-8. */
export const encode = (value: string): Buffer => {
  const parts: Array<Buffer> = []
  let run = 0
  for (let i = 0; i < value.length; i++) {
    if (!isEscape(value.charCodeAt(i))) continue
    parts.push(Buffer.from(value.slice(run, i), "utf8"), Buffer.from([value.charCodeAt(i) - escapeBase]))
    run = i + 1
  }
  parts.push(Buffer.from(value.slice(run), "utf8"))
  return Buffer.concat(parts)
}

/** `env` without its unset names (`process.env`'s type allows them). */
export const definedOnly = (env: Readonly<Record<string, string | undefined>>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined))

/** A file name as the file system takes it: its bytes when it holds escapes. */
export const fsPath = (path: string): string | Buffer => (hasEscapes(path) ? encode(path) : path)

/** `printf`'s format for exactly these bytes: all octal escapes, so nothing in it is special. */
const printfFormat = (bytes: Buffer): string => [...bytes].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("")

/** A name the shell can assign (others, vanishingly rare, keep Node's lossy encoding). */
const isShellName = (name: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)

/**
 * The argv and env to spawn so that the worker receives every value byte for byte: unchanged
 * when all are UTF-8; otherwise `/bin/sh -c` sets the others from `printf` and execs `argv`.
 */
export const spawnable = (
  argv: readonly [string, ...Array<string>],
  env: Readonly<Record<string, string>>
): { readonly argv: readonly [string, ...Array<string>]; readonly env: Record<string, string> } => {
  const escaped = Object.keys(env).filter((name) => isShellName(name) && hasEscapes(env[name]!))
  const argvEscaped = argv.some(hasEscapes)
  if (escaped.length === 0 && !argvEscaped) return { argv, env: { ...env } }
  const rest = Object.fromEntries(Object.entries(env).filter(([name]) => !escaped.includes(name)))
  // $(…) would drop trailing newlines; a value never has one (only an envdir's first line).
  const assignments = escaped.map(
    (name) => `${name}="$(printf '${printfFormat(encode(env[name]!))}')"; export ${name}; `
  )
  if (!argvEscaped) return { argv: ["/bin/sh", "-c", `${assignments.join("")}exec "$0" "$@"`, ...argv], env: rest }
  // Every argument from printf (an argument may end in newlines: an `x` keeps them, then goes).
  const args = argv.map((arg) => `a="$(printf '${printfFormat(encode(arg))}x')"; set -- "$@" "\${a%x}"; `)
  return { argv: ["/bin/sh", "-c", `${assignments.join("")}set --; ${args.join("")}exec "$@"`], env: rest }
}

/**
 * `argv` (this process's arguments after the script, as the runtime decoded them: lossily)
 * with each argument that was not UTF-8 given back its bytes from `cmdline` (the contents of
 * /proc/self/cmdline, what execve received). Its last arguments are ours; one that does not
 * decode to what the runtime holds (a changed process title) is left as it is.
 */
export const withArgumentBytes = (argv: ReadonlyArray<string>, cmdline: Buffer | undefined): Array<string> => {
  if (cmdline === undefined) return [...argv]
  const raw: Array<Buffer> = []
  for (let start = 0; start < cmdline.length; ) {
    let end = cmdline.indexOf(0, start)
    if (end === -1) end = cmdline.length
    raw.push(cmdline.subarray(start, end))
    start = end + 1
  }
  const ours = raw.slice(Math.max(0, raw.length - argv.length))
  if (ours.length !== argv.length) return [...argv]
  return argv.map((arg, i) => (ours[i]!.toString("utf8") === arg ? decode(ours[i]!, 0, ours[i]!.length) : arg))
}

/**
 * `env` (this process's `process.env`) with each inherited value that was not UTF-8 given
 * back its bytes: Node decoded them with U+FFFD at startup, and /proc/self/environ still
 * holds what execve received. A value changed since startup is left as it is.
 */
export const withInheritedBytes = (
  env: Readonly<Record<string, string | undefined>>,
  environ: Buffer | undefined
): Record<string, string | undefined> => {
  if (environ === undefined) return { ...env }
  const result: Record<string, string | undefined> = { ...env }
  let start = 0
  while (start < environ.length) {
    let end = environ.indexOf(0, start)
    if (end === -1) end = environ.length
    const equals = environ.indexOf(0x3d, start)
    if (equals !== -1 && equals < end) {
      const name = environ.toString("utf8", start, equals)
      const exact = decode(environ, equals + 1, end)
      if (hasEscapes(exact) && env[name] === environ.toString("utf8", equals + 1, end)) result[name] = exact
    }
    start = end + 1
  }
  return result
}
