/**
 * libc through koffi (prebuilt FFI, no compiler): the bare calls of `Libc.Syscalls`, and
 * epoll for the fd watcher, whose wait runs in a thread of libuv's pool (koffi's `.async`).
 * koffi reads errno right after the call, in the same native frame.
 */
import { createRequire } from "node:module"
import { type Syscalls, SysError } from "@starter/platform-shared/LibcCalls"
import { AF_INET6 } from "@starter/platform-shared/Sockaddr"

type Koffi = typeof import("koffi")

/**
 * koffi, libc and the functions bound from it, loaded on the first call: a command that never
 * calls libc (`--version`, a `status` client) never pays the 6 ms and 3 MB they cost.
 */
const load = () => {
  const koffi: Koffi = createRequire(import.meta.url)("koffi")
  const libc = koffi.load("libc.so.6")
  koffi.struct("iovec", { base: "void *", len: "size_t" })
  koffi.struct("msghdr", {
    name: "void *",
    namelen: "uint32_t",
    iov: "iovec *",
    iovlen: "size_t",
    control: "void *",
    controllen: "size_t",
    flags: "int"
  })
  const c = {
    socket: libc.func("int socket(int domain, int type, int protocol)"),
    setsockopt: libc.func("int setsockopt(int fd, int level, int name, _In_ int *value, uint32_t len)"),
    getsockopt: libc.func("int getsockopt(int fd, int level, int name, _Out_ int *value, _Inout_ uint32_t *len)"),
    getsockname: libc.func("int getsockname(int fd, _Out_ uint8_t *addr, _Inout_ uint32_t *len)"),
    bind: libc.func("int bind(int fd, const uint8_t *addr, uint32_t len)"),
    listen: libc.func("int listen(int fd, int backlog)"),
    close: libc.func("int close(int fd)"),
    flock: libc.func("int flock(int fd, int operation)"),
    dup2: libc.func("int dup2(int oldfd, int newfd)"),
    fcntl: libc.func("int fcntl(int fd, int cmd, int arg)"),
    pipe: libc.func("int pipe2(_Out_ int *fds, int flags)"),
    socketpair: libc.func("int socketpair(int domain, int type, int protocol, _Out_ int *fds)"),
    inetPton: libc.func("int inet_pton(int af, const char *src, _Out_ uint8_t *dst)"),
    inetNtop: libc.func("const char *inet_ntop(int af, const uint8_t *src, _Out_ uint8_t *dst, uint32_t size)"),
    sendto: libc.func(
      "intptr_t sendto(int fd, const uint8_t *buf, uintptr_t len, int flags, const uint8_t *addr, uint32_t alen)"
    ),
    write: libc.func("intptr_t write(int fd, const uint8_t *buf, uintptr_t len)"),
    read: libc.func("intptr_t read(int fd, _Out_ uint8_t *buf, uintptr_t len)"),
    eventfd: libc.func("int eventfd(unsigned int initval, int flags)"),
    epollCreate: libc.func("int epoll_create1(int flags)"),
    epollCtl: libc.func("int epoll_ctl(int epfd, int op, int fd, const uint8_t *event)"),
    epollWait: libc.func("int epoll_wait(int epfd, _Out_ uint8_t *events, int max, int timeout)"),
    recvmsg: libc.func("intptr_t recvmsg(int fd, _Inout_ msghdr *message, int flags)"),
    prctl: libc.func("int prctl(int option, ...)"),
    waitid: libc.func("int waitid(int idtype, uint32_t id, _Out_ uint8_t *info, int options)"),
    waitpid: libc.func("int waitpid(int pid, int *status, int options)")
  }
  return { koffi, c }
}
let loaded: ReturnType<typeof load> | undefined
const ffi = (): ReturnType<typeof load> => {
  loaded ??= load()
  return loaded
}

const check = (call: string, result: number | bigint): number => {
  if (result < 0) throw new SysError(call, ffi().koffi.errno())
  return Number(result)
}

export const syscalls: Syscalls = {
  socket: (domain, type, protocol) => check("socket", ffi().c.socket(domain, type, protocol)),
  setsockopt: (fd, level, name, value) => void check("setsockopt", ffi().c.setsockopt(fd, level, name, [value], 4)),
  getsockopt: (fd, level, name) => {
    const value = [0]
    check("getsockopt", ffi().c.getsockopt(fd, level, name, value, [4]))
    return value[0]!
  },
  getsockname: (fd) => {
    const address = new Uint8Array(128)
    const length = [address.length]
    check("getsockname", ffi().c.getsockname(fd, address, length))
    return address.subarray(0, length[0])
  },
  bind: (fd, address) => void check("bind", ffi().c.bind(fd, address, address.length)),
  listen: (fd, backlog) => void check("listen", ffi().c.listen(fd, backlog)),
  close: (fd) => void ffi().c.close(fd),
  flock: (fd, operation) => void check("flock", ffi().c.flock(fd, operation)),
  fcntl: (fd, cmd, arg) => check("fcntl", ffi().c.fcntl(fd, cmd, arg)),
  pipe2: (flags) => {
    const fds = [0, 0]
    check("pipe2", ffi().c.pipe(fds, flags))
    return [fds[0]!, fds[1]!]
  },
  socketpair: (domain, type) => {
    const fds = [0, 0]
    check("socketpair", ffi().c.socketpair(domain, type, 0, fds))
    return [fds[0]!, fds[1]!]
  },
  dup2: (fd, target) => void check("dup2", ffi().c.dup2(fd, target)),
  inetPton6: (text) => {
    const out = new Uint8Array(16)
    return ffi().c.inetPton(AF_INET6, text, out) === 1 ? out : undefined
  },
  inetNtop6: (ip) => {
    const out = new Uint8Array(46 /* INET6_ADDRSTRLEN */)
    if (ffi().c.inetNtop(AF_INET6, ip, out, out.length) === null) throw new SysError("inet_ntop", ffi().koffi.errno())
    return new TextDecoder().decode(out.subarray(0, out.indexOf(0)))
  },
  sendto: (fd, data, address) => check("sendto", ffi().c.sendto(fd, data, data.length, 0, address, address.length)),
  recvmsg: (fd, data, control, flags) => {
    const { koffi, c } = ffi()
    const dataBuffer = koffi.alloc("uint8_t", data.length)
    const controlBuffer = koffi.alloc("uint8_t", control.length)
    try {
      const message = {
        name: null,
        namelen: 0,
        iov: [{ base: dataBuffer, len: data.length }],
        iovlen: 1,
        control: controlBuffer,
        controllen: control.length,
        flags: 0
      }
      const length = check("recvmsg", c.recvmsg(fd, message, flags))
      const controlLength = Number(message.controllen)
      data.set(koffi.decode(dataBuffer, "uint8_t", length) as ArrayLike<number>)
      control.set(koffi.decode(controlBuffer, "uint8_t", controlLength) as ArrayLike<number>)
      return { length, controlLength }
    } finally {
      koffi.free(dataBuffer)
      koffi.free(controlBuffer)
    }
  },
  prctl: (option, arg) => {
    const ulong = "unsigned long"
    check("prctl", ffi().c.prctl(option, ulong, arg, ulong, 0, ulong, 0, ulong, 0))
  },
  waitid: (idtype, id, info, options) => void check("waitid", ffi().c.waitid(idtype, id, info, options)),
  waitpid: (pid, options) => check("waitpid", ffi().c.waitpid(pid, null, options)),
  // libuv's hrtime is CLOCK_MONOTONIC: no FFI call needed.
  monotonicMicros: () => process.hrtime.bigint() / 1000n
}

// ---------------------------------------------------------------------------------------
// Readiness notification for fds Node cannot watch (unix datagram sockets): one epoll set,
// waited on in a thread of libuv's pool so the event loop itself never polls.

const SOCK_CLOEXEC = 0o2000000
const EPOLL_CTL_ADD = 1
const EPOLL_CTL_DEL = 2
const EPOLLIN = 1
const O_NONBLOCK = 0o4000
/** `struct epoll_event` is packed on x86_64 (12 bytes) and naturally aligned elsewhere (16). */
const epollEventSize = process.arch === "x64" ? 12 : 16
const epollDataOffset = process.arch === "x64" ? 4 : 8

export const epollCreate = (): number => check("epoll_create1", ffi().c.epollCreate(SOCK_CLOEXEC))

const epollEvent = (fd: number): Uint8Array => {
  const event = new Uint8Array(epollEventSize)
  const view = new DataView(event.buffer)
  view.setUint32(0, EPOLLIN, true)
  view.setBigUint64(epollDataOffset, BigInt(fd), true)
  return event
}

export const epollAdd = (epfd: number, fd: number): void => {
  check("epoll_ctl", ffi().c.epollCtl(epfd, EPOLL_CTL_ADD, fd, epollEvent(fd)))
}

export const epollRemove = (epfd: number, fd: number): void => {
  ffi().c.epollCtl(epfd, EPOLL_CTL_DEL, fd, epollEvent(fd))
}

/**
 * Waits (in a pool thread, without a timeout) until some fds in the set are readable;
 * answers them. `epoll_wait` may be woken by a signal: that answers no fds.
 */
export const epollWait = (epfd: number, maxEvents: number, callback: (fds: ReadonlyArray<number>) => void): void => {
  const events = new Uint8Array(epollEventSize * maxEvents)
  ffi().c.epollWait.async(epfd, events, maxEvents, -1, (_error: unknown, count: number) => {
    const view = new DataView(events.buffer)
    const fds: Array<number> = []
    for (let i = 0; i < count; i++) fds.push(Number(view.getBigUint64(i * epollEventSize + epollDataOffset, true)))
    callback(fds)
  })
}

/** A non-blocking eventfd: writing it wakes an `epollWait` on a set that contains it. */
export const eventfd = (): number => check("eventfd", ffi().c.eventfd(0, SOCK_CLOEXEC | O_NONBLOCK))

export const signalEventfd = (fd: number): void => {
  const one = new Uint8Array(8)
  one[0] = 1
  ffi().c.write(fd, one, 8)
}

/** Resets an eventfd's counter (it stays readable until read). */
export const drainEventfd = (fd: number): void => {
  ffi().c.read(fd, new Uint8Array(8), 8)
}

export const close = (fd: number): void => syscalls.close(fd)
