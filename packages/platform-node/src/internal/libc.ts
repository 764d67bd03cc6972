/**
 * The few libc calls Node does not offer, through koffi (prebuilt FFI, no compiler).
 * A Node `net.Server` would accept connections itself; raw sockets are never polled.
 * Constants are Linux's (x86_64 and aarch64 agree on all of these).
 */
import { createRequire } from "node:module"

type Koffi = typeof import("koffi")

export const AF_UNIX = 1
export const AF_INET = 2
export const AF_INET6 = 10
export const SOCK_STREAM = 1
export const SOCK_DGRAM = 2
const SOCK_CLOEXEC = 0o2000000
const SOL_SOCKET = 1
const SO_REUSEADDR = 2
const IPPROTO_IPV6 = 41
const IPV6_V6ONLY = 26
const LOCK_EX = 2
const LOCK_NB = 4
const LOCK_UN = 8
const EINTR = 4
const EAGAIN = 11 // also EWOULDBLOCK on Linux

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
    inetPton: libc.func("int inet_pton(int af, const char *src, _Out_ uint8_t *dst)"),
    inetNtop: libc.func("const char *inet_ntop(int af, const uint8_t *src, _Out_ uint8_t *dst, uint32_t size)"),
    sendto: libc.func(
      "intptr_t sendto(int fd, const uint8_t *buf, uintptr_t len, int flags, const uint8_t *addr, uint32_t alen)"
    ),
    strerror: libc.func("const char *strerror(int errnum)"),
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

/** A failed libc call: `errno` and glibc's `strerror` text (what Perl's `$!` prints). */
export class SysError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number
  ) {
    super(strerror(errno))
  }
}

export const strerror = (errno: number): string => ffi().c.strerror(errno) as string

const check = (call: string, result: number): number => {
  if (result < 0) throw new SysError(call, ffi().koffi.errno())
  return result
}

export const socket = (domain: number, type: number): number =>
  check("socket", ffi().c.socket(domain, type | SOCK_CLOEXEC, 0))

const setIntOption = (fd: number, level: number, name: number, value: number): void => {
  check("setsockopt", ffi().c.setsockopt(fd, level, name, [value], 4))
}

export const setReuseAddr = (fd: number): void => setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)

export const setV6Only = (fd: number): void => setIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)

const SO_TYPE = 3
const SO_ACCEPTCONN = 30

const getIntOption = (fd: number, level: number, name: number): number => {
  const value = [0]
  check("getsockopt", ffi().c.getsockopt(fd, level, name, value, [4]))
  return value[0]!
}

/** SOCK_STREAM, SOCK_DGRAM, …: what kind of socket an inherited fd is. */
export const socketType = (fd: number): number => getIntOption(fd, SOL_SOCKET, SO_TYPE)

/** Whether listen(2) was called on it (an accepted connection answers false). */
export const isListening = (fd: number): boolean => getIntOption(fd, SOL_SOCKET, SO_ACCEPTCONN) !== 0

/** The socket's own address (`struct sockaddr_storage`, cut to its length). */
export const getsockname = (fd: number): Uint8Array => {
  const address = new Uint8Array(128)
  const length = [address.length]
  check("getsockname", ffi().c.getsockname(fd, address, length))
  return address.subarray(0, length[0])
}

export const bind = (fd: number, address: Uint8Array): void => {
  check("bind", ffi().c.bind(fd, address, address.length))
}

export const listen = (fd: number, backlog: number): void => {
  check("listen", ffi().c.listen(fd, backlog))
}

export const close = (fd: number): void => {
  ffi().c.close(fd)
}

/** Takes an exclusive flock(2) without blocking; false when another process holds it. */
export const tryLockExclusive = (fd: number): boolean => {
  for (;;) {
    if (ffi().c.flock(fd, LOCK_EX | LOCK_NB) === 0) return true
    const errno = ffi().koffi.errno()
    if (errno === EINTR) continue
    if (errno === EAGAIN) return false
    throw new SysError("flock", errno)
  }
}

export const unlock = (fd: number): void => {
  ffi().c.flock(fd, LOCK_UN)
}

const F_SETFD = 2
const FD_CLOEXEC = 1

/** Marks an inherited fd close-on-exec, so it reaches workers only where we place it. */
export const setCloexec = (fd: number): void => {
  check("fcntl", ffi().c.fcntl(fd, F_SETFD, FD_CLOEXEC))
}

/** A pipe whose ends are close-on-exec: `[read, write]`. */
export const pipe = (): readonly [number, number] => {
  const fds = [0, 0]
  check("pipe2", ffi().c.pipe(fds, SOCK_CLOEXEC /* O_CLOEXEC has the same value */))
  return [fds[0]!, fds[1]!]
}

/** Points `target` (e.g. stdout) at `fd`'s open file, as Perl's `open STDOUT, '>&='` does. */
export const dup2 = (fd: number, target: number): void => {
  check("dup2", ffi().c.dup2(fd, target))
}

/** inet_pton(AF_INET6): the 16 address bytes, or undefined when `host` is not an IPv6 literal. */
export const parseIPv6 = (host: string): Uint8Array | undefined => {
  const out = new Uint8Array(16)
  return ffi().c.inetPton(AF_INET6, host, out) === 1 ? out : undefined
}

/** inet_ntop(AF_INET6): the canonical text of 16 address bytes (`::1`, `::ffff:127.0.0.1`). */
export const formatIPv6 = (ip: Uint8Array): string => {
  const out = new Uint8Array(46 /* INET6_ADDRSTRLEN */)
  if (ffi().c.inetNtop(AF_INET6, ip, out, out.length) === null) throw new SysError("inet_ntop", ffi().koffi.errno())
  return new TextDecoder().decode(out.subarray(0, out.indexOf(0)))
}

// ---------------------------------------------------------------------------------------
// sockaddr structures

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

/** `sun_path` holds 108 bytes including the terminating NUL. */
export const maxUnixPath = 107

/** One datagram to a unix socket (`@name` is the abstract namespace, as in NOTIFY_SOCKET). */
export const sendDatagram = (path: string, message: string): void => {
  const fd = socket(AF_UNIX, SOCK_DGRAM)
  try {
    const data = new TextEncoder().encode(message)
    const address = sockaddrUn(path)
    check("sendto", Number(ffi().c.sendto(fd, data, data.length, 0, address, address.length)))
  } finally {
    close(fd)
  }
}

export const sockaddrUn = (path: string): Uint8Array => {
  // An abstract name has a leading NUL and no terminating one: its length is exact.
  const abstract = path.startsWith("@")
  const bytes = new TextEncoder().encode(abstract ? `\0${path.slice(1)}` : path)
  const buf = new Uint8Array(2 + bytes.length + (abstract ? 0 : 1))
  new DataView(buf.buffer).setUint16(0, AF_UNIX, true)
  buf.set(bytes, 2)
  return buf
}

// ---------------------------------------------------------------------------------------
// Readiness notification for fds Node cannot watch (unix datagram sockets): one epoll set,
// waited on in a thread of libuv's pool so the event loop itself never polls.

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

// ---------------------------------------------------------------------------------------
// Datagrams with passed fds (sd_notify)

const MSG_DONTWAIT = 0x40
const MSG_CMSG_CLOEXEC = 0x40000000
const SCM_RIGHTS = 1
/** systemd reads notifications into a buffer of this size too (NOTIFY_BUFFER_MAX = PIPE_BUF). */
const maxDatagram = 4096
const controlSize = 512

/** A unix datagram socket bound to `path`, non-blocking and close-on-exec. */
export const bindDatagram = (path: string): number => {
  const fd = socket(AF_UNIX, SOCK_DGRAM | O_NONBLOCK)
  try {
    bind(fd, sockaddrUn(path))
  } catch (error) {
    close(fd)
    throw error
  }
  return fd
}

export interface Datagram {
  readonly text: string
  /** fds passed with it (SCM_RIGHTS), already open in this process. */
  readonly fds: ReadonlyArray<number>
}

/** The next datagram waiting on a non-blocking socket; `undefined` when there is none. */
export const receiveDatagram = (fd: number): Datagram | undefined => {
  const data = ffi().koffi.alloc("uint8_t", maxDatagram)
  const control = ffi().koffi.alloc("uint8_t", controlSize)
  try {
    for (;;) {
      const message = {
        name: null,
        namelen: 0,
        iov: [{ base: data, len: maxDatagram }],
        iovlen: 1,
        control,
        controllen: controlSize,
        flags: 0
      }
      const n = Number(ffi().c.recvmsg(fd, message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC))
      if (n < 0) {
        const errno = ffi().koffi.errno()
        if (errno === EINTR) continue
        if (errno === EAGAIN) return undefined
        throw new SysError("recvmsg", errno)
      }
      const bytes = Uint8Array.from(ffi().koffi.decode(data, "uint8_t", n) as ArrayLike<number>)
      const cmsgs = Uint8Array.from(
        ffi().koffi.decode(control, "uint8_t", Number(message.controllen)) as ArrayLike<number>
      )
      return { text: new TextDecoder().decode(bytes), fds: passedFds(cmsgs) }
    }
  } finally {
    ffi().koffi.free(data)
    ffi().koffi.free(control)
  }
}

/** The SCM_RIGHTS fds in a control buffer (`struct cmsghdr`: size_t len, int level, int type). */
const passedFds = (control: Uint8Array): Array<number> => {
  const view = new DataView(control.buffer, control.byteOffset, control.byteLength)
  const fds: Array<number> = []
  const header = 16
  for (let offset = 0; offset + header <= control.length; ) {
    const length = Number(view.getBigUint64(offset, true))
    if (length < header) break
    if (view.getInt32(offset + 8, true) === SOL_SOCKET && view.getInt32(offset + 12, true) === SCM_RIGHTS) {
      for (let p = offset + header; p + 4 <= offset + length; p += 4) fds.push(view.getInt32(p, true))
    }
    offset += (length + 7) & ~7
  }
  return fds
}

// ---------------------------------------------------------------------------------------
// Adopting and reaping orphans

const PR_SET_CHILD_SUBREAPER = 36
const P_ALL = 0
const WNOHANG = 1
const WEXITED = 4
const WNOWAIT = 0x01000000
const ECHILD = 10
/** `siginfo_t` is 128 bytes; `si_pid` follows signo, errno, code and padding on 64-bit Linux. */
const siginfoSize = 128
const siPidOffset = 16

/** Orphaned descendants are re-parented to this process instead of to init. */
export const setChildSubreaper = (): void => {
  const ulong = "unsigned long"
  check("prctl", ffi().c.prctl(PR_SET_CHILD_SUBREAPER, ulong, 1, ulong, 0, ulong, 0, ulong, 0))
}

/**
 * A child that has exited and waits to be reaped, left unreaped (WNOWAIT): the kernel's first
 * in its list, the oldest. `undefined` when there is none.
 */
export const peekExitedChild = (): number | undefined => {
  const info = new Uint8Array(siginfoSize)
  for (;;) {
    if (ffi().c.waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT) === 0) {
      const pid = new DataView(info.buffer).getInt32(siPidOffset, true)
      return pid === 0 ? undefined : pid
    }
    const errno = ffi().koffi.errno()
    if (errno === EINTR) continue
    if (errno === ECHILD) return undefined
    throw new SysError("waitid", errno)
  }
}

/** Reaps `pid` if it has exited (its status is discarded). */
export const reap = (pid: number): void => {
  while (ffi().c.waitpid(pid, null, WNOHANG) < 0 && ffi().koffi.errno() === EINTR) {}
}
