/*
 * libc for Bun, compiled at load by bun:ffi's TinyCC. Each wrapper answers the call's result,
 * or -errno read in this same C call: a second FFI call to __errno_location() would run after
 * JavaScriptCore had the thread back, and anything it does in between (a GC, an allocation)
 * may overwrite errno. No headers: the few declarations are written out.
 */
typedef unsigned long size_t;
#define NULL ((void *)0)

extern int *__errno_location(void);
extern int socket(int, int, int);
extern int setsockopt(int, int, int, const void *, unsigned int);
extern int getsockopt(int, int, int, void *, unsigned int *);
extern int getsockname(int, void *, unsigned int *);
extern int bind(int, const void *, unsigned int);
extern int listen(int, int);
extern int close(int);
extern int flock(int, int);
extern int fcntl(int, int, ...);
extern int pipe2(int *, int);
extern int socketpair(int, int, int, int *);
extern int dup2(int, int);
extern int inet_pton(int, const char *, void *);
extern const char *inet_ntop(int, const void *, char *, unsigned int);
extern long sendto(int, const void *, unsigned long, int, const void *, unsigned int);
extern long recvmsg(int, void *, int);
extern int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long);
extern int waitid(int, unsigned int, void *, int);
extern int waitpid(int, int *, int);
struct s_timespec { long seconds; long nanoseconds; };
extern int clock_gettime(int, struct s_timespec *);

#define RESULT(call) { long r = (call); return r < 0 ? -(long)*__errno_location() : r; }

long s_socket(int domain, int type, int protocol) RESULT(socket(domain, type, protocol))
long s_setsockopt(int fd, int level, int name, int value) RESULT(setsockopt(fd, level, name, &value, sizeof value))
long s_getsockopt(int fd, int level, int name, int *value) {
  unsigned int length = sizeof *value;
  RESULT(getsockopt(fd, level, name, value, &length))
}
long s_getsockname(int fd, void *address, unsigned int *length) RESULT(getsockname(fd, address, length))
long s_bind(int fd, const void *address, unsigned int length) RESULT(bind(fd, address, length))
long s_listen(int fd, int backlog) RESULT(listen(fd, backlog))
long s_close(int fd) RESULT(close(fd))
long s_flock(int fd, int operation) RESULT(flock(fd, operation))
long s_fcntl(int fd, int cmd, int arg) RESULT(fcntl(fd, cmd, arg))
long s_pipe2(int *fds, int flags) RESULT(pipe2(fds, flags))
long s_socketpair(int domain, int type, int *fds) RESULT(socketpair(domain, type, 0, fds))
long s_dup2(int fd, int target) RESULT(dup2(fd, target))
long s_inet_pton(int af, const char *text, void *out) RESULT(inet_pton(af, text, out))
long s_inet_ntop(int af, const void *address, char *out, unsigned int size) RESULT(inet_ntop(af, address, out, size) == NULL ? -1 : 0)
long s_sendto(int fd, const void *data, unsigned long length, const void *address, unsigned int alength)
  RESULT(sendto(fd, data, length, 0, address, alength))

/* struct iovec and struct msghdr, as on 64-bit Linux. */
struct s_iovec { void *base; size_t length; };
struct s_msghdr { void *name; unsigned int namelen; struct s_iovec *iov; size_t iovlen; void *control; size_t controllen; int flags; };

/* One iovec; the control length the kernel wrote goes back through *controllen. */
long s_recvmsg(int fd, void *data, unsigned long length, void *control, unsigned long *controllen, int flags) {
  struct s_iovec iov = { data, length };
  struct s_msghdr message = { NULL, 0, &iov, 1, control, *controllen, 0 };
  long r = recvmsg(fd, &message, flags);
  if (r < 0) return -(long)*__errno_location();
  *controllen = message.controllen;
  return r;
}
long s_prctl(int option, unsigned long arg) RESULT(prctl(option, arg, 0, 0, 0))
long s_waitid(int idtype, unsigned int id, void *info, int options) RESULT(waitid(idtype, id, info, options))
long s_waitpid(int pid, int options) RESULT(waitpid(pid, NULL, options))
/* CLOCK_MONOTONIC (1) in microseconds: Bun's process.hrtime counts from the process's start. */
long s_monotonic_usec(void) {
  struct s_timespec now;
  if (clock_gettime(1, &now) < 0) return -(long)*__errno_location();
  return now.seconds * 1000000L + now.nanoseconds / 1000L;
}
