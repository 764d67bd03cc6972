/**
 * The `Libc` service under Bun: bun:ffi, with every call wrapped in C (internal/libc.c, which
 * bun:ffi's TinyCC compiles when first needed, in about 2 ms) so that errno is read in the
 * same native call that failed. Loaded on the first call, as koffi is under Node.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as Libc from "@starter/platform-shared/LibcCalls"
import { AF_INET6 } from "@starter/platform-shared/Sockaddr"

type Ffi = typeof import("bun:ffi")

const i32 = "i32" as const
const u32 = "u32" as const
const i64 = "i64" as const
const u64 = "u64" as const
const ptr = "ptr" as const

const symbols = {
  s_socket: { args: [i32, i32, i32], returns: i64 },
  s_setsockopt: { args: [i32, i32, i32, i32], returns: i64 },
  s_getsockopt: { args: [i32, i32, i32, ptr], returns: i64 },
  s_getsockname: { args: [i32, ptr, ptr], returns: i64 },
  s_bind: { args: [i32, ptr, u32], returns: i64 },
  s_listen: { args: [i32, i32], returns: i64 },
  s_close: { args: [i32], returns: i64 },
  s_flock: { args: [i32, i32], returns: i64 },
  s_fcntl: { args: [i32, i32, i32], returns: i64 },
  s_pipe2: { args: [ptr, i32], returns: i64 },
  s_socketpair: { args: [i32, i32, ptr], returns: i64 },
  s_dup2: { args: [i32, i32], returns: i64 },
  s_inet_pton: { args: [i32, ptr, ptr], returns: i64 },
  s_inet_ntop: { args: [i32, ptr, ptr, u32], returns: i64 },
  s_sendto: { args: [i32, ptr, u64, ptr, u32], returns: i64 },
  s_recvmsg: { args: [i32, ptr, u64, ptr, ptr, i32], returns: i64 },
  s_prctl: { args: [i32, u64], returns: i64 },
  s_waitid: { args: [i32, u32, ptr, i32], returns: i64 },
  s_waitpid: { args: [i32, i32], returns: i64 },
  s_monotonic_usec: { args: [], returns: i64 }
} as const

const load = () => {
  // Bun's `require` loads bun:ffi synchronously, on the first call only.
  const ffi: Ffi = createRequire(import.meta.url)("bun:ffi")
  // From src/ and from dist/ alike the C source is src/'s; a bundle carries a copy beside its chunks.
  const candidates = ["./libc.c", "../src/internal/libc.c"].map((file) => new URL(file, import.meta.url).pathname)
  const source = candidates.find((file) => fs.existsSync(file)) ?? candidates[1]!
  return ffi.cc({ source, symbols }).symbols
}
let loaded: ReturnType<typeof load> | undefined
const c = (): ReturnType<typeof load> => {
  loaded ??= load()
  return loaded
}

/** A wrapper's answer: the result, or a `SysError` for -errno. */
const check = (call: string, result: number | bigint): number => {
  const n = Number(result)
  if (n < 0) throw new Libc.SysError(call, -n)
  return n
}

/** A NUL-terminated copy of `text`, for a `const char *`. */
const cString = (text: string): Uint8Array => new TextEncoder().encode(`${text}\0`)

export const syscalls: Libc.Syscalls = {
  socket: (domain, type, protocol) => check("socket", c().s_socket(domain, type, protocol)),
  setsockopt: (fd, level, name, value) => void check("setsockopt", c().s_setsockopt(fd, level, name, value)),
  getsockopt: (fd, level, name) => {
    const value = new Int32Array(1)
    check("getsockopt", c().s_getsockopt(fd, level, name, value))
    return value[0]!
  },
  getsockname: (fd) => {
    const address = new Uint8Array(128)
    const length = new Uint32Array([address.length])
    check("getsockname", c().s_getsockname(fd, address, length))
    return address.subarray(0, length[0])
  },
  bind: (fd, address) => void check("bind", c().s_bind(fd, address, address.length)),
  listen: (fd, backlog) => void check("listen", c().s_listen(fd, backlog)),
  close: (fd) => void c().s_close(fd),
  flock: (fd, operation) => void check("flock", c().s_flock(fd, operation)),
  fcntl: (fd, cmd, arg) => check("fcntl", c().s_fcntl(fd, cmd, arg)),
  pipe2: (flags) => {
    const fds = new Int32Array(2)
    check("pipe2", c().s_pipe2(fds, flags))
    return [fds[0]!, fds[1]!]
  },
  socketpair: (domain, type) => {
    const fds = new Int32Array(2)
    check("socketpair", c().s_socketpair(domain, type, fds))
    return [fds[0]!, fds[1]!]
  },
  dup2: (fd, target) => void check("dup2", c().s_dup2(fd, target)),
  inetPton6: (text) => {
    const out = new Uint8Array(16)
    return check("inet_pton", c().s_inet_pton(AF_INET6, cString(text), out)) === 1 ? out : undefined
  },
  inetNtop6: (ip) => {
    const out = new Uint8Array(46 /* INET6_ADDRSTRLEN */)
    check("inet_ntop", c().s_inet_ntop(AF_INET6, ip, out, out.length))
    return new TextDecoder().decode(out.subarray(0, out.indexOf(0)))
  },
  sendto: (fd, data, address) => check("sendto", c().s_sendto(fd, data, data.length, address, address.length)),
  recvmsg: (fd, data, control, flags) => {
    const controlLength = new BigUint64Array([BigInt(control.length)])
    const length = check("recvmsg", c().s_recvmsg(fd, data, data.length, control, controlLength, flags))
    return { length, controlLength: Number(controlLength[0]) }
  },
  prctl: (option, arg) => void check("prctl", c().s_prctl(option, arg)),
  waitid: (idtype, id, info, options) => void check("waitid", c().s_waitid(idtype, id, info, options)),
  waitpid: (pid, options) => check("waitpid", c().s_waitpid(pid, options)),
  monotonicMicros: () => BigInt(check("clock_gettime", c().s_monotonic_usec()))
}

/** For the code that runs before (or without) Effect: the early bind, the clients. */
export const libc: Libc.Service = Libc.make(syscalls)
