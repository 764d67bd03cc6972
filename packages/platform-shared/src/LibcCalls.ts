/**
 * The libc calls no JavaScript runtime offers (raw sockets that nothing accepts on, flock,
 * fcntl, pipe2, dup2, recvmsg with passed fds, the subreaper calls). A runtime implements
 * `Syscalls`, the bare calls through its FFI (koffi under Node, bun:ffi under Bun);
 * everything built on them (flags, retries, structure layouts) is here, once. Free of
 * Effect: the binary binds its ports with it before Effect loads (EarlyListen); `Libc` is
 * the service. Constants are Linux's (x86_64 and aarch64 agree on all of these).
 */
import { AF_UNIX, SOCK_DGRAM, SOCK_STREAM, sockaddrUn } from "./Sockaddr.js"
import { strerrorOf } from "./SystemError.js"

export { AF_INET, AF_INET6, AF_UNIX, maxUnixPath, SOCK_DGRAM, SOCK_STREAM } from "./Sockaddr.js"

/** A failed libc call: `errno` and glibc's `strerror` text (what Perl's `$!` prints). */
export class SysError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number
  ) {
    super(strerrorOf(errno))
  }
}

/**
 * The bare calls, as a runtime's FFI makes them. Each answers the call's result, or throws a
 * `SysError` with the errno of that very call (read before anything else can run).
 */
export interface Syscalls {
  readonly socket: (domain: number, type: number, protocol: number) => number
  readonly setsockopt: (fd: number, level: number, name: number, value: number) => void
  readonly getsockopt: (fd: number, level: number, name: number) => number
  /** The socket's own address (`struct sockaddr_storage`, cut to its length). */
  readonly getsockname: (fd: number) => Uint8Array
  readonly bind: (fd: number, address: Uint8Array) => void
  readonly listen: (fd: number, backlog: number) => void
  /** close(2); its errors are not reported (the fd is gone either way). */
  readonly close: (fd: number) => void
  readonly flock: (fd: number, operation: number) => void
  readonly fcntl: (fd: number, cmd: number, arg: number) => number
  readonly pipe2: (flags: number) => readonly [number, number]
  /** socketpair(2) with protocol 0. */
  readonly socketpair: (domain: number, type: number) => readonly [number, number]
  readonly dup2: (fd: number, target: number) => void
  /** inet_pton(AF_INET6): the 16 address bytes, or undefined for text that is no IPv6 literal. */
  readonly inetPton6: (text: string) => Uint8Array | undefined
  /** inet_ntop(AF_INET6). */
  readonly inetNtop6: (address: Uint8Array) => string
  readonly sendto: (fd: number, data: Uint8Array, address: Uint8Array) => number
  /** recvmsg(2) with one iovec (`data`) and `control` for ancillary data; answers both lengths. */
  readonly recvmsg: (
    fd: number,
    data: Uint8Array,
    control: Uint8Array,
    flags: number
  ) => { readonly length: number; readonly controlLength: number }
  /** prctl(2) with one argument (the rest are 0). */
  readonly prctl: (option: number, arg: number) => void
  /** waitid(2) into `info` (a 128-byte `siginfo_t`). */
  readonly waitid: (idtype: number, id: number, info: Uint8Array, options: number) => void
  /** waitpid(2) discarding the status. */
  readonly waitpid: (pid: number, options: number) => number
  /** CLOCK_MONOTONIC in microseconds (what systemd compares MONOTONIC_USEC with). */
  readonly monotonicMicros: () => bigint
}

const SOCK_CLOEXEC = 0o2000000
const O_NONBLOCK = 0o4000
const SOL_SOCKET = 1
const SO_REUSEADDR = 2
const SO_TYPE = 3
const SO_ACCEPTCONN = 30
const IPPROTO_IPV6 = 41
const IPV6_V6ONLY = 26
const LOCK_EX = 2
const LOCK_NB = 4
const LOCK_UN = 8
const F_SETFD = 2
const F_GETFL = 3
const F_SETFL = 4
const F_DUPFD_CLOEXEC = 1030
const FD_CLOEXEC = 1
export const EINTR = 4
export const EAGAIN = 11 // also EWOULDBLOCK on Linux
const ECHILD = 10

/** A datagram read from a socket, with the fds passed along with it (SCM_RIGHTS). */
export interface Datagram {
  readonly text: string
  /** Already open in this process, close-on-exec. */
  readonly fds: ReadonlyArray<number>
}

const errnoIs = (error: unknown, errno: number): boolean => error instanceof SysError && error.errno === errno

/** Retries a call that a signal interrupted. */
const restarting = <A>(call: () => A): A => {
  for (;;) {
    try {
      return call()
    } catch (error) {
      if (!errnoIs(error, EINTR)) throw error
    }
  }
}

const MSG_DONTWAIT = 0x40
const MSG_CMSG_CLOEXEC = 0x40000000
const SCM_RIGHTS = 1
/** systemd reads notifications into a buffer of this size too (NOTIFY_BUFFER_MAX = PIPE_BUF). */
const maxDatagram = 4096
const controlSize = 512

/** The SCM_RIGHTS fds in a control buffer (`struct cmsghdr`: size_t len, int level, int type). */
export const passedFds = (control: Uint8Array): Array<number> => {
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

const PR_SET_CHILD_SUBREAPER = 36
const P_ALL = 0
const WNOHANG = 1
const WEXITED = 4
const WNOWAIT = 0x01000000
/** `siginfo_t` is 128 bytes; `si_pid` follows signo, errno, code and padding on 64-bit Linux. */
const siginfoSize = 128
const siPidOffset = 16

/** What the platforms use: the calls with their flags, retries and structures. */
export const make = (sys: Syscalls) => {
  const socket = (domain: number, type: number): number => sys.socket(domain, type | SOCK_CLOEXEC, 0)
  const close = sys.close
  const bind = sys.bind
  return {
    syscalls: sys,
    socket,
    setReuseAddr: (fd: number): void => sys.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1),
    setV6Only: (fd: number): void => sys.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1),
    /** SOCK_STREAM, SOCK_DGRAM, …: what kind of socket an inherited fd is. */
    socketType: (fd: number): number => sys.getsockopt(fd, SOL_SOCKET, SO_TYPE),
    /** Whether listen(2) was called on it (an accepted connection answers false). */
    isListening: (fd: number): boolean => sys.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN) !== 0,
    getsockname: sys.getsockname,
    bind,
    listen: sys.listen,
    close,
    /** Takes an exclusive flock(2) without blocking; false when another process holds it. */
    tryLockExclusive: (fd: number): boolean => {
      try {
        restarting(() => sys.flock(fd, LOCK_EX | LOCK_NB))
        return true
      } catch (error) {
        if (errnoIs(error, EAGAIN)) return false
        throw error
      }
    },
    unlock: (fd: number): void => {
      try {
        sys.flock(fd, LOCK_UN)
      } catch {
        // nothing held: nothing to release
      }
    },
    monotonicMicros: sys.monotonicMicros,
    /** Makes writes to `fd` answer EAGAIN rather than block (O_NONBLOCK, on the open file: its copies too). */
    setNonBlocking: (fd: number): void => void sys.fcntl(fd, F_SETFL, sys.fcntl(fd, F_GETFL, 0) | O_NONBLOCK),
    /** Whether writes to `fd` answer EAGAIN rather than block. */
    isNonBlocking: (fd: number): boolean => (sys.fcntl(fd, F_GETFL, 0) & O_NONBLOCK) !== 0,
    /** A close-on-exec copy of `fd` at the lowest free descriptor from `min` on (F_DUPFD_CLOEXEC). */
    duplicateAbove: (fd: number, min: number): number => sys.fcntl(fd, F_DUPFD_CLOEXEC, min),
    /** Marks an inherited fd close-on-exec, so it reaches workers only where we place it. */
    setCloexec: (fd: number): void => void sys.fcntl(fd, F_SETFD, FD_CLOEXEC),
    fcntl: sys.fcntl,
    /** A pipe whose ends are close-on-exec: `[read, write]`. */
    pipe: (): readonly [number, number] => sys.pipe2(SOCK_CLOEXEC /* O_CLOEXEC has the same value */),
    /** A connected pair of unix stream sockets, close-on-exec (a Node IPC channel needs a socket, not a pipe). */
    socketPair: (): readonly [number, number] => sys.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC),
    /** Points `target` (e.g. stdout) at `fd`'s open file, as Perl's `open STDOUT, '>&='` does. */
    dup2: sys.dup2,
    parseIPv6: sys.inetPton6,
    formatIPv6: sys.inetNtop6,
    /** One datagram to a unix socket (`@name` is the abstract namespace, as in NOTIFY_SOCKET). */
    sendDatagram: (path: string, message: string): void => {
      const fd = socket(AF_UNIX, SOCK_DGRAM)
      try {
        sys.sendto(fd, new TextEncoder().encode(message), sockaddrUn(path))
      } finally {
        close(fd)
      }
    },
    /** A unix datagram socket bound to `path`, non-blocking and close-on-exec. */
    bindDatagram: (path: string): number => {
      const fd = socket(AF_UNIX, SOCK_DGRAM | O_NONBLOCK)
      try {
        bind(fd, sockaddrUn(path))
      } catch (error) {
        close(fd)
        throw error
      }
      return fd
    },
    /** The next datagram waiting on a non-blocking socket; `undefined` when there is none. */
    receiveDatagram: (fd: number): Datagram | undefined => {
      const data = new Uint8Array(maxDatagram)
      const control = new Uint8Array(controlSize)
      try {
        const { length, controlLength } = restarting(() =>
          sys.recvmsg(fd, data, control, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)
        )
        return {
          text: new TextDecoder().decode(data.subarray(0, length)),
          fds: passedFds(control.subarray(0, controlLength))
        }
      } catch (error) {
        if (errnoIs(error, EAGAIN)) return undefined
        throw error
      }
    },
    /** Orphaned descendants are re-parented to this process instead of to init. */
    setChildSubreaper: (): void => sys.prctl(PR_SET_CHILD_SUBREAPER, 1),
    /**
     * A child that has exited and waits to be reaped, left unreaped (WNOWAIT): the kernel's
     * first in its list, the oldest. `undefined` when there is none.
     */
    peekExitedChild: (): number | undefined => {
      const info = new Uint8Array(siginfoSize)
      try {
        restarting(() => sys.waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT))
      } catch (error) {
        if (errnoIs(error, ECHILD)) return undefined
        throw error
      }
      const pid = new DataView(info.buffer).getInt32(siPidOffset, true)
      return pid === 0 ? undefined : pid
    },
    /** Reaps `pid` if it has exited (its status is discarded). */
    reap: (pid: number): void => {
      try {
        restarting(() => sys.waitpid(pid, WNOHANG))
      } catch {
        // not ours, or gone already
      }
    }
  }
}

export interface Service extends ReturnType<typeof make> {}

/** Whether `error` is a failed call with this errno. */
export const isErrno = errnoIs
