/**
 * `--help`: Perl's pod2usage text, then the options that are ours. Scripts and people who
 * know Perl's start_server find the same words in the same places.
 */

/** Set by the bundle's build from STARTER_VERSION (a build that must differ visibly). */
declare const __STARTER_VERSION__: string | undefined

/** Printed by `--version`, alone on a line as Perl prints `0.35`. */
export const version = typeof __STARTER_VERSION__ === "string" ? __STARTER_VERSION__ : "0.1.0"

export const usage = `Usage:
      start_server [options] -- server-prog server-arg1 server-arg2 ...

      # start Plack using Starlet listening at TCP port 8000
      start_server --port=8000 -- plackup -s Starlet --max-workers=100 index.psgi

Options:
  --port=(port|host:port|port=fd|host:port=fd):
    TCP port to listen to (if omitted, will not bind to any ports)

    If host is not specified, then the program will bind to the default
    address of IPv4 ("0.0.0.0"). Square brackets should be used to specify
    an IPv6 address (e.g. --port=[::1]:8080)

    If fd is specified, then start_server allocates the socket at the given
    number.

    The command binds to UDP ports if the port numbers are prefixed by "u"
    (e.g., --port=u443).

  --path=path:
    path at where to listen using unix socket (optional)

  --dir=path:
    working directory, start_server do chdir to before exec (optional)

  --interval=seconds:
    minimum interval to respawn the server program (default: 1)

  --signal-on-hup=Signal:
    name of the signal to be sent to the server process when start_server
    receives a SIGHUP (default: SIGTERM). If you use this option, be sure to
    also use "--signal-on-term" below.

  --signal-on-term=Signal:
    name of the signal to be sent to the server process when start_server
    receives a SIGTERM (default: SIGTERM)

  --pid-file=filename:
    if set, writes the process id of the start_server process to the file

  --status-file=filename:
    if set, writes the status of the server process(es) to the file

  --envdir=Envdir:
    directory that contains environment variables to the server processes
    and superdaemon. It is inspired by "envdir" in "daemontools". This can
    be overwritten by environment variable "ENVDIR".

  --log-file=file:
  --log-file="| cmd args...":
    if set, redirects STDOUT and STDERR to given file or command

  --daemonize:
    deamonizes the server (by doing fork,setsid,fork). Must be used together
    with "--log-file".

  --enable-auto-restart:
    enables automatic restart by time. This can be overwritten by
    environment variable "ENABLE_AUTO_RESTART".

  --auto-restart-interval=seconds:
    automatic restart interval (default 360). It is used with
    "--enable-auto-restart" option. This can be overwritten by environment
    variable "AUTO_RESTART_INTERVAL".

  --kill-old-delay=seconds:
    time to suspend to send a signal to the old worker. The default value is
    5 when "--enable-auto-restart" is set, 0 otherwise. This can be
    overwritten by environment variable "KILL_OLD_DELAY".

  --backlog=size:
    specifies a listen backlog parameter, whose default is SOMAXCONN
    (usually 128 on Linux). While SOMAXCONN is enough for most loads, large
    backlog is required for heavy loads.

  --restart:
    this is a wrapper command that reads the pid of the start_server process
    from --pid-file, sends SIGHUP to the process and waits until the
    server(s) of the older generation(s) die by monitoring the contents of
    the --status-file

  --stop:
    this is a wrapper command that reads the pid of the start_server process
    from --pid-file, sends SIGTERM to the process.

  --help:
    prints this help

  --version:
    prints the version number

Options beyond Perl's start_server:
  --workers=N:
    number of server processes per generation (default: 1). Each one gets
    SERVER_STARTER_WORKER_INDEX (0..N-1) in its environment.

  --max-surge=N:
    during a restart, how many new processes may start at once (default: 1).
    The count of ready processes never drops below --workers.

  --ready=(none|notify-fd|ipc|sd-notify|tcp:HOST:PORT|unix:PATH|URL):
    how a new process tells it is ready (default: none, meaning "still alive
    after --interval"). notify-fd: write "READY=1" to the fd named in
    STARTER_NOTIFY_FD. ipc: process.send("ready") from a Node.js worker.
    sd-notify: sd_notify(3) "READY=1" on the NOTIFY_SOCKET each process gets
    (systemd-notify --ready works). A probe is tried every 100ms until it
    passes: tcp: and unix: connect, an http:// URL (or http://unix:SOCKET:/PATH)
    must answer 2xx or 3xx. {pid}, {index} and {generation} in a probe are the
    process's own: {pid} gives each one an address of its own, e.g.
    unix:/run/app/{pid}.sock ({index} is shared with the process it replaces).

  --ready-timeout=duration:
    with --ready, how long a new process may take (default: 60s). One that is
    late is stopped and the old generation keeps serving.

  --kill-timeout=duration:
    send SIGKILL to a process that has not exited this long after its stop
    signal, after a restart and at shutdown (default: wait forever)

  --max-start-attempts=N:
    give up a restart after N consecutive failed starts and keep the old
    generation (default: retry forever)

  --log-format=(text|json):
    text: the lines Perl's start_server prints; json: one JSON object per line,
    the workers' lines too (tagged with worker_pid, generation and stream)

  --log-worker-tags:
    in text, pass the workers' stdout and stderr through start_server, each
    line behind "[pid P gen G] " (by default workers write to start_server's
    own stdout and stderr directly, as in Perl)

  --control-socket=path:
    a unix socket (mode 0600) for controlling the running start_server with
    JSON lines: status, restart (answers when the rollout is over), stop,
    scale, signal, subscribe, logs and upgrade. See docs/control-socket.md.
    The workers' stdout and stderr then pass through start_server (written
    out unchanged), so that "start_server logs" has their lines too.

  --json-status-file=path:
    writes the status (workers, generations, states, start and ready times,
    recent exits, last restart) as JSON, atomically, on every change

  --metrics-file=path:
    writes OpenMetrics text (restarts by result, generation, readiness
    latency, drain time, exits by code and signal, crash loop) on every
    change, e.g. for node_exporter's textfile collector

  --path-mode=mode:
    the permission bits of the --path socket files, in octal (default 0777,
    as Perl's start_server makes them): 0660 lets only the owner and the
    group connect

  --signal-process-group:
    start each worker in its own process group and send every signal to the
    whole group, so that processes a worker started stop with it

  --listen-fds:
    also describe the sockets with systemd's LISTEN_FDS, LISTEN_FDNAMES and
    LISTEN_PID, for workers written for socket activation (sd_listen_fds).
    Sockets handed to start_server by systemd socket activation are used
    instead of binding: each --port/--path must name one by its address, and
    with none given, every passed socket is adopted.

  --timeout=duration:
    with --restart or --stop, how long to wait (default: 60s for --restart,
    forever for --stop)

  Durations are seconds ("5", "0.5") or carry a unit ("500ms", "5s", "2m").

Commands beyond Perl's start_server (each has --help, and --json for JSON):
  start_server status    the state, the serving generation, the last restart's
                         outcome, and each worker's uptime, restarts, RSS, CPU;
                         exits 0 while a worker serves, 1 while none does,
                         3 when start_server is not running
  start_server restart   restarts and waits; exits 0 ready, 10 failed (the old
                         generation keeps serving), 11 superseded, 12 stopping
  start_server stop      stops, and returns once start_server has exited
  start_server scale N   runs N workers from now on
  start_server signal SIG
                         sends SIG to every worker
  start_server events    follows the lifecycle events, one line each
  start_server logs [-f] [-n N]
                         the last N log lines (default 10) kept in memory, the
                         workers' too; -f follows new ones
  start_server reopen-logs
                         reopens --log-file after logrotate renamed it (so
                         does SIGWINCH); a "| cmd" pipe is left as it is
  start_server upgrade [--binary=PATH]
                         replaces start_server itself on the same sockets with
                         no connection refused (so does SIGUSR2); exits 0 when
                         the new one serves, 10 failed (the old one keeps
                         serving), 11 refused for now, 12 stopping

  They find the control socket from --control-socket, else
  $START_SERVER_CONTROL_SOCKET, else start_server.sock beside --pid-file.
  Exit 3: not running; 124: no answer within --timeout.

  start_server --restart --control-socket=path [--timeout=duration]:
    as "start_server restart", silent
`
