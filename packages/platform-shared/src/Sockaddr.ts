/**
 * `struct sockaddr` in bytes: building the addresses we bind, and reading the ones
 * getsockname answers. Linux's layouts (family in host order, port in network order).
 */
import { encode } from "./ByteEnv.js"

export const AF_UNIX = 1
export const AF_INET = 2
export const AF_INET6 = 10
export const SOCK_STREAM = 1
export const SOCK_DGRAM = 2

/** `sun_path` holds 108 bytes including the terminating NUL. */
export const maxUnixPath = 107

const port16 = (view: DataView, offset: number, port: number) => view.setUint16(offset, port, false)

export const sockaddrIn = (ip: ReadonlyArray<number>, port: number): Uint8Array => {
  const buf = new Uint8Array(16)
  const view = new DataView(buf.buffer)
  view.setUint16(0, AF_INET, true)
  port16(view, 2, port)
  buf.set(ip, 4)
  return buf
}

export const sockaddrIn6 = (ip: Uint8Array, port: number): Uint8Array => {
  const buf = new Uint8Array(28)
  const view = new DataView(buf.buffer)
  view.setUint16(0, AF_INET6, true)
  port16(view, 2, port)
  buf.set(ip, 8)
  return buf
}

export const sockaddrUn = (path: string): Uint8Array => {
  // An abstract name has a leading NUL and no terminating one: its length is exact.
  const abstract = path.startsWith("@")
  // A name that is not UTF-8 keeps its bytes (see ByteEnv).
  const bytes = encode(abstract ? `\0${path.slice(1)}` : path)
  const buf = new Uint8Array(2 + bytes.length + (abstract ? 0 : 1))
  new DataView(buf.buffer).setUint16(0, AF_UNIX, true)
  buf.set(bytes, 2)
  return buf
}

export type Address =
  | { readonly _tag: "Inet"; readonly family: 4 | 6; readonly host: string; readonly port: number }
  | { readonly _tag: "Unix"; readonly path: string }

/** The address in a `struct sockaddr`; `formatIPv6` is inet_ntop's (`::1`, `::ffff:127.0.0.1`). */
export const parse = (bytes: Uint8Array, formatIPv6: (ip: Uint8Array) => string): Address | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const family = view.getUint16(0, true)
  if (family === AF_INET && bytes.length >= 8) {
    return { _tag: "Inet", family: 4, host: bytes.subarray(4, 8).join("."), port: view.getUint16(2, false) }
  }
  if (family === AF_INET6 && bytes.length >= 24) {
    return { _tag: "Inet", family: 6, host: formatIPv6(bytes.slice(8, 24)), port: view.getUint16(2, false) }
  }
  if (family === AF_UNIX && bytes.length > 2) {
    const name = bytes.subarray(2)
    // An abstract name starts with a NUL and runs to the end; a path ends at its NUL.
    if (name[0] === 0) return { _tag: "Unix", path: `@${new TextDecoder().decode(name.subarray(1))}` }
    const end = name.indexOf(0)
    return { _tag: "Unix", path: new TextDecoder().decode(end < 0 ? name : name.subarray(0, end)) }
  }
  return undefined
}
