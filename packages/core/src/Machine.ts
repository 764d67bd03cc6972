/**
 * The generation state machine: `step(state, event, clock)` returns the next state and
 * the actions to perform. It is pure, so simulation tests drive it directly.
 *
 * The spec, in one paragraph. The supervisor keeps `workers` (N) processes of the current
 * *epoch* serving. An epoch is a release: boot starts epoch 1 and every restart request
 * starts the next. The processes a rollout starts share one *generation*
 * (SERVER_STARTER_GENERATION); a failed start makes it take the next number, so failed
 * attempts consume generation numbers as in Perl, and so does a replacement for a crash.
 * A new worker is *starting* until it is ready: with no readiness channel, when it is still
 * alive `--interval` after spawn (Perl); with one, when it says so before the timeout.
 * For every new worker that becomes ready, one worker of an older epoch is retired: it is
 * sent `--signal-on-hup` (after `--kill-old-delay`) and is *draining* until it exits.
 * During a restart at most `--max-surge` new workers start at once, so the count of ready
 * workers never drops below N unless one crashes. A restart requested while a rollout is
 * in progress is queued, and all such requests coalesce into one follow-up rollout.
 * On TERM or INT every worker is signalled and the supervisor exits once all are gone.
 *
 * The supervisor is in one `Mode` at a time: rolling out an epoch, serving it, shutting
 * down, finished. `step` looks up how the current mode handles the event (`byMode`).
 */
import * as Data from "effect/Data"
import type { Action, LogLevel } from "./Action.js"
import { Action as A } from "./Action.js"
import { Event, type Event as EventT, type RestartReason, type ShutdownOrigin } from "./Event.js"
import type { ExitStatus } from "./ExitStatus.js"
import * as History from "./History.js"
import { describeFailure, Lifecycle, RolloutFailure } from "./Lifecycle.js"
import * as Text from "./PerlText.js"
import type { Unexecutable } from "./ProcessSpawner.js"
import { isInterval } from "./Readiness.js"
import type { SupervisorConfig } from "./SupervisorConfig.js"
import type { Tunables } from "./Tunables.js"

export type Phase = "starting" | "serving" | "draining"

export interface WorkerRecord {
  readonly id: number
  /** `undefined` until the process exists. */
  readonly pid: number | undefined
  readonly generation: number
  readonly epoch: number
  /** SERVER_STARTER_WORKER_INDEX: 0..workers-1, unique among the epoch's live workers. */
  readonly index: number
  readonly phase: Phase
  readonly spawnedAt: number
  readonly readyAt: number | undefined
  /** Interval mode: the worker died (or never ran) before its alive check; reported when the check is due. */
  readonly diedEarly: RolloutFailure | undefined
  /** Draining: whether the stop signal has been sent (it waits for `--kill-old-delay`). */
  readonly signalled: boolean
}

export type Mode = Data.TaggedEnum<{
  /** The current epoch has not yet reached `workers` ready processes. */
  RollingOut: {
    readonly reason: RestartReason | "boot"
    /** The generation its new workers get; `undefined`: the next number. */
    readonly generation: number | undefined
    /** A restart requested meanwhile; they coalesce into one, which follows this rollout. */
    readonly queued: RestartReason | undefined
    /** Consecutive failed starts. */
    readonly failures: number
  }
  /**
   * The current epoch serves: its rollout completed, or was abandoned and the old workers
   * carried over. `failures`: consecutive failed starts of replacements and scale-ups.
   */
  Serving: { readonly failures: number }
  /**
   * Every worker was signalled; `give-up`: no worker could be started (exit code 1);
   * `cannot-run`: the program cannot be executed at the first start (126 or 127);
   * `handover`: a new supervisor took over, the workers retire as in a restart (exit code 0).
   */
  ShuttingDown: {
    readonly signal: "TERM" | "INT" | "give-up" | "cannot-run" | "handover"
    readonly exitCode: number
  }
  /** Every worker is gone and the exit was asked for: no event changes anything any more. */
  Finished: {}
}>
export const Mode = Data.taggedEnum<Mode>()

type RollingOut = Extract<Mode, { readonly _tag: "RollingOut" }>

export interface State {
  readonly config: SupervisorConfig
  readonly workers: ReadonlyArray<WorkerRecord>
  readonly nextId: number
  /** The last generation number handed out. */
  readonly generation: number
  readonly epoch: number
  readonly mode: Mode
  /** When serving workers of the current epoch crashed, within the last `crashWindowMs`. */
  readonly recentCrashes: ReadonlyArray<number>
  /**
   * Crashes since a crash loop began (0: none). A loop lasts while each replacement dies
   * within `crashWindowMs` of becoming ready, and each of its crashes backs off longer.
   */
  readonly loopCrashes: number
  /** No spawning before this time (backoff). */
  readonly holdUntil: number
  /** When the last rollout completed: the auto-restart clock (Perl's `last_restart_time`). */
  readonly lastRestartAt: number
  /** The auto-restart check that counts; an earlier scheduled one was cancelled. */
  readonly autoRestartTimer: number
  readonly status: string
  /** The newest restart's outcome, recent exits, spawns per index: what status reports. */
  readonly history: History.History
  /** Some worker has become ready: the first start is over. */
  readonly everReady: boolean
  /** The TCP ports and unix paths the supervisor holds (their SERVER_STARTER_PORT keys). */
  readonly listening: ReadonlyArray<string>
  /** Consecutive exits that look like a worker's own listen() meeting our socket (`ListenConflict`). */
  readonly listenSuspects: number
  /** The epoch whose listen-conflict hint was logged: one line per release at most. */
  readonly listenHintEpoch: number
}

export interface Clock {
  readonly now: number
  /** A uniform number in [0, 1) for backoff jitter. */
  readonly random: number
}

export const initial = (config: SupervisorConfig, listening: ReadonlyArray<string> = []): State => ({
  config,
  workers: [],
  nextId: 1,
  generation: config.generationBase ?? 0,
  epoch: 0,
  // Boot starts epoch 1; until then, epoch 0 counts as a rollout that has not begun.
  mode: Mode.RollingOut({ reason: "boot", generation: undefined, queued: undefined, failures: 0 }),
  recentCrashes: [],
  loopCrashes: 0,
  holdUntil: 0,
  lastRestartAt: 0,
  autoRestartTimer: 0,
  // Perl writes nothing until the first worker is up: the empty file is never written first.
  status: "",
  history: History.empty,
  everReady: false,
  listening,
  listenSuspects: 0,
  listenHintEpoch: 0
})

// ---------------------------------------------------------------------------------------
// Queries

/** The current epoch serves (its rollout is over) and no shutdown has begun. */
export const isRolledOut = (s: State): boolean => s.mode._tag === "Serving"

/** A shutdown has begun (or is over). */
export const isStopping = (s: State): boolean => s.mode._tag === "ShuttingDown" || s.mode._tag === "Finished"

const isCurrent = (s: State) => (w: WorkerRecord) => w.epoch === s.epoch && w.phase !== "draining"

export const readyWorkers = (s: State): ReadonlyArray<WorkerRecord> =>
  s.workers.filter((w) => isCurrent(s)(w) && w.phase === "serving")

export const startingWorkers = (s: State): ReadonlyArray<WorkerRecord> =>
  s.workers.filter((w) => isCurrent(s)(w) && w.phase === "starting")

/** Serving workers of earlier epochs, oldest first: the ones a rollout replaces. */
export const outdatedWorkers = (s: State): ReadonlyArray<WorkerRecord> =>
  s.workers
    .filter((w) => w.epoch < s.epoch && w.phase === "serving")
    .sort((a, b) => a.generation - b.generation || a.id - b.id)

const rollingOut = (m: RollingOut, patch: Partial<Omit<RollingOut, "_tag">>): Mode =>
  Mode.RollingOut({ reason: m.reason, generation: m.generation, queued: m.queued, failures: m.failures, ...patch })

/** Only a rollout or serving counts failed starts. */
const failuresOf = (m: Mode): number => (m._tag === "RollingOut" || m._tag === "Serving" ? m.failures : 0)

const withFailures = (m: Mode, failures: number): Mode =>
  m._tag === "RollingOut" ? rollingOut(m, { failures }) : m._tag === "Serving" ? Mode.Serving({ failures }) : m

// ---------------------------------------------------------------------------------------
// The transition builder: a copy of the state plus the actions it has decided so far.

class Transition {
  readonly actions: Array<Action> = []
  constructor(
    public state: State,
    readonly clock: Clock
  ) {}

  get config(): SupervisorConfig {
    return this.state.config
  }
  get mode(): Mode {
    return this.state.mode
  }
  set(patch: Partial<State>): void {
    this.state = { ...this.state, ...patch }
  }
  find(id: number): WorkerRecord | undefined {
    return this.state.workers.find((w) => w.id === id)
  }
  update(id: number, patch: Partial<WorkerRecord>): WorkerRecord | undefined {
    let updated: WorkerRecord | undefined
    this.set({
      workers: this.state.workers.map((w) => {
        if (w.id !== id) return w
        updated = { ...w, ...patch }
        return updated
      })
    })
    return updated
  }
  remove(id: number): void {
    this.set({ workers: this.state.workers.filter((w) => w.id !== id) })
  }
  /** A log line; `about` annotates it with the worker's pid and generation (JSON logs). */
  log(message: string, about?: WorkerRecord, level: LogLevel = "info"): void {
    this.actions.push(
      A.Log({
        message,
        level,
        worker: about?.pid === undefined ? undefined : { pid: about.pid, generation: about.generation }
      })
    )
  }
  publish(event: Lifecycle): void {
    this.set({ history: History.fold(this.state.history, event, this.clock.now) })
    this.actions.push(A.Publish({ event }))
  }
  schedule(delayMs: number, event: EventT): void {
    this.actions.push(A.Schedule({ delayMs, event }))
  }
  /** Sends the stop signal and arms the `--kill-timeout` ladder. */
  stop(w: WorkerRecord, signal: SupervisorConfig["signalOnHup"]): void {
    this.update(w.id, { phase: "draining", signalled: true })
    if (w.pid === undefined) return // signalled once it exists (see Spawned)
    this.actions.push(A.Signal({ id: w.id, signal: signal.signal }))
    this.publish(Lifecycle.WorkerSignalled({ pid: w.pid, generation: w.generation, signal: signal.label }))
    if (this.config.killTimeoutMs !== undefined) this.schedule(this.config.killTimeoutMs, Event.KillDue({ id: w.id }))
  }
  writeStatus(): void {
    const content = Text.statusContent(this.state.workers)
    if (content === this.state.status) return
    this.set({ status: content })
    this.actions.push(A.WriteStatus({ content }))
  }
  backoffDelay(attempt: number): number {
    const { initialMs, maxMs } = this.config.backoff
    const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1))
    // "Equal jitter": half fixed, half random, so delays grow but restarts never synchronise.
    return Math.round(base / 2 + (base / 2) * this.clock.random)
  }
  /** (Re)arms the auto-restart check; a check armed earlier no longer counts. */
  scheduleAutoRestart(delayMs: number): void {
    const timer = this.state.autoRestartTimer + 1
    this.set({ autoRestartTimer: timer })
    this.schedule(Math.max(0, delayMs), Event.AutoRestartDue({ timer }))
  }
  holdSpawning(delayMs: number): void {
    if (delayMs <= 0) return
    this.set({ holdUntil: this.clock.now + delayMs })
    this.schedule(delayMs, Event.RetryDue())
  }
}

// ---------------------------------------------------------------------------------------
// Reconciliation: converge on `workers` ready processes of the current epoch.

const reconcile = (t: Transition): void => {
  retireOutdated(t)
  retireSurplus(t)
  spawnMissing(t)
  completeRollout(t)
  t.writeStatus()
}

/**
 * One outdated worker leaves for every new one that is ready beyond the target: the one with
 * the new worker's index first, so that the serving workers' indexes stay unique even when
 * the rollout is abandoned half-way and the old workers stay in service beside the new ones.
 */
const retireOutdated = (t: Transition): void => {
  const outdated = outdatedWorkers(t.state)
  const excess = readyWorkers(t.state).length + outdated.length - t.config.workers
  const replaced = new Set(readyWorkers(t.state).map((w) => w.index))
  const byReplacement = [
    ...outdated.filter((w) => replaced.has(w.index)),
    ...outdated.filter((w) => !replaced.has(w.index))
  ]
  const leaving = byReplacement.slice(0, Math.max(0, excess))
  if (leaving.length === 0) return
  const { signalOnHup, killOldDelayMs } = t.config
  t.log(Text.retiringOld(signalOnHup.label, leaving))
  if (killOldDelayMs > 0) {
    t.log(Text.retireDelay(killOldDelayMs))
    for (const w of leaving) t.update(w.id, { phase: "draining", signalled: false })
    t.schedule(killOldDelayMs, Event.RetireDue({ ids: leaving.map((w) => w.id) }))
    return
  }
  t.log(Text.killingOld)
  for (const w of leaving) t.stop(w, signalOnHup)
}

/** After a scale-down: the current workers beyond the target leave, newest index first. */
const retireSurplus = (t: Transition): void => {
  if (outdatedWorkers(t.state).length > 0) return
  const current = [...readyWorkers(t.state), ...startingWorkers(t.state)].sort((a, b) => b.index - a.index)
  const surplus = current.slice(0, Math.max(0, current.length - t.config.workers))
  if (surplus.length === 0) return
  t.log(Text.scalingDown(t.config.signalOnHup.label, surplus))
  for (const w of surplus) t.stop(w, t.config.signalOnHup)
}

const spawnMissing = (t: Transition): void => {
  const s = t.state
  const starting = startingWorkers(s).length
  const missing = s.config.workers - readyWorkers(s).length - starting
  // While outdated workers still serve, surge is bounded so capacity never dips.
  const surge = Math.min(s.config.maxSurge, s.config.workers)
  const allowed = outdatedWorkers(s).length > 0 ? Math.min(missing, surge - starting) : missing
  if (allowed <= 0 || t.clock.now < s.holdUntil) return
  // A rollout's workers share its generation; spawns after it (a crash, a scale-up) take the next.
  const rollout = s.mode._tag === "RollingOut" ? s.mode : undefined
  const generation = rollout?.generation ?? s.generation + 1
  const used = new Set(s.workers.filter(isCurrent(s)).map((w) => w.index))
  const fresh: Array<WorkerRecord> = []
  for (let index = 0; fresh.length < allowed; index++) {
    if (used.has(index)) continue
    fresh.push({
      id: s.nextId + fresh.length,
      pid: undefined,
      generation,
      epoch: s.epoch,
      index,
      phase: "starting",
      spawnedAt: t.clock.now,
      readyAt: undefined,
      diedEarly: undefined,
      signalled: false
    })
  }
  t.set({
    workers: [...s.workers, ...fresh],
    nextId: s.nextId + fresh.length,
    generation,
    mode: rollout === undefined ? s.mode : rollingOut(rollout, { generation })
  })
  for (const w of fresh) t.actions.push(A.Spawn({ id: w.id, generation, index: w.index }))
}

const completeRollout = (t: Transition): void => {
  const s = t.state
  const m = s.mode
  if (m._tag !== "RollingOut") return
  const done =
    readyWorkers(s).length === s.config.workers && startingWorkers(s).length === 0 && outdatedWorkers(s).length === 0
  if (!done) return
  t.set({ mode: Mode.Serving({ failures: m.failures }), lastRestartAt: t.clock.now })
  t.publish(Lifecycle.RolloutCompleted({ epoch: s.epoch, generation: s.generation }))
  if (s.config.autoRestart !== undefined) t.scheduleAutoRestart(s.config.autoRestart.intervalMs)
  if (m.queued !== undefined) {
    t.log(Text.queuedRestartStarting)
    beginEpoch(t, m.queued)
  }
}

/** `holdUntil` carries a backoff over from a failed start that this rollout supersedes. */
const beginEpoch = (t: Transition, reason: RestartReason | "boot", holdUntil = 0): void => {
  t.set({
    epoch: t.state.epoch + 1,
    mode: Mode.RollingOut({ reason, generation: undefined, queued: undefined, failures: 0 }),
    holdUntil
  })
  t.publish(Lifecycle.RolloutStarted({ epoch: t.state.epoch, reason }))
  reconcile(t)
}

// ---------------------------------------------------------------------------------------
// Worker outcomes

const becomeReady = (t: Transition, w: WorkerRecord): void => {
  t.update(w.id, { phase: "serving", readyAt: t.clock.now })
  t.set({ mode: withFailures(t.mode, 0), everReady: true })
  // Ready on its channel: it uses our sockets. (Alive after --interval says nothing of the kind.)
  if (!isInterval(t.config.readiness)) t.set({ listenSuspects: 0 })
  if (w.pid !== undefined) {
    t.publish(Lifecycle.WorkerReady({ pid: w.pid, generation: w.generation, latencyMs: t.clock.now - w.spawnedAt }))
  }
  reconcile(t)
}

/**
 * Consecutive failed starts before a rollout gives up. Perl retries forever, and so do we by
 * default; with explicit readiness a restart gives up after 5 and keeps the old generation.
 * With no old generation to keep (at boot), it retries until `--max-start-attempts`.
 */
export const defaultRestartAttempts = 5
const startAttemptLimit = (s: State): number | undefined =>
  s.config.maxStartAttempts ??
  (isInterval(s.config.readiness) || outdatedWorkers(s).length === 0 ? undefined : defaultRestartAttempts)

/**
 * Without a readiness channel, the least time between two attempts to start a worker: Perl
 * retries once per `--interval`, and with `--interval=0` a program that cannot start would
 * be retried in a tight loop (thousands of log lines a second, signals waiting behind it).
 */
export const minStartRetryMs = 100

/** A new worker did not make it. Perl retries at once; with readiness, after a backoff. */
const failStart = (t: Transition, w: WorkerRecord, failure: RolloutFailure): void => {
  if (failure._tag === "ReadyTimeout") {
    t.log(Text.notReady(w.pid, failure.timeoutMs, failure.detail), w, "warn")
    t.stop(w, { signal: "TERM", label: "TERM" })
  } else {
    t.log(Text.failedToStart(w.pid, describeFailure(failure)), w, "warn")
    t.remove(w.id)
  }
  const m = t.mode
  const attempt = failuresOf(m) + 1
  // The next attempt reads the program from disk again: a new generation, as in Perl.
  t.set({
    mode:
      m._tag === "RollingOut" ? rollingOut(m, { failures: attempt, generation: undefined }) : withFailures(m, attempt)
  })
  t.publish(Lifecycle.StartFailed({ generation: w.generation, attempt, failure }))
  const limit = startAttemptLimit(t.state)
  if (limit !== undefined && attempt >= limit) return giveUp(t, attempt, failure)
  if (!isInterval(t.config.readiness)) t.holdSpawning(t.backoffDelay(attempt))
  else t.holdSpawning(minStartRetryMs - (t.clock.now - w.spawnedAt))
  // A restart requested meanwhile need not wait for this rollout: the retry runs the program
  // from disk anyway, so it becomes the queued rollout, and this one is superseded.
  if (m._tag === "RollingOut" && m.queued !== undefined) {
    t.publish(Lifecycle.RolloutSuperseded({ epoch: t.state.epoch, by: t.state.epoch + 1 }))
    return beginEpoch(t, m.queued, t.state.holdUntil)
  }
  reconcile(t)
}

/** The rollout failed for good: the outdated workers stay in service as the current epoch. */
const giveUp = (t: Transition, attempts: number, failure: RolloutFailure): void => {
  const s = t.state
  for (const w of startingWorkers(s)) t.stop(w, { signal: "TERM", label: "TERM" })
  t.publish(Lifecycle.RolloutAbandoned({ epoch: s.epoch, attempts, failure }))
  const keep = outdatedWorkers(t.state)
  if (keep.length === 0) {
    t.log(Text.gaveUp(attempts), undefined, "error")
    return exitNow(t, "give-up", 1)
  }
  keepOldWorkers(t, Text.gaveUpRestart(attempts, keep))
}

/** The supervisor exits: the workers that did become ready must not be left behind. */
const exitNow = (t: Transition, signal: "give-up" | "cannot-run", exitCode: number): void => {
  t.set({ mode: Mode.ShuttingDown({ signal, exitCode }) })
  for (const w of t.state.workers) if (w.phase !== "draining") t.stop(w, { signal: "TERM", label: "TERM" })
  finishIfIdle(t)
}

/** The abandoned rollout's outdated workers serve on as the current epoch; `line` says so. */
const keepOldWorkers = (t: Transition, line: string): void => {
  const s = t.state
  t.log(line, undefined, "error")
  for (const w of outdatedWorkers(s)) t.update(w.id, { epoch: s.epoch })
  // Abandoned, not completed: nothing new serves, and the auto-restart clock keeps its time.
  // A restart queued meanwhile is dropped with it.
  t.set({ mode: Mode.Serving({ failures: 0 }) })
  if (t.config.autoRestart !== undefined) t.scheduleAutoRestart(t.config.autoRestart.intervalMs)
  reconcile(t)
}

/**
 * A serving worker of the current epoch died: replace it at once, unless crashes come faster
 * than `crashLoopCrashes` per `crashWindowMs`: a loop, in which each respawn waits longer
 * until a replacement outlives the window.
 */
const replaceCrashed = (t: Transition, w: WorkerRecord, status: ExitStatus): void => {
  t.log(Text.crashed(w.pid, status), w, "warn")
  t.remove(w.id)
  const { crashWindowMs, crashLoopCrashes } = t.config
  const now = t.clock.now
  // Bounded: a loop backs off, so the window never holds many more than the loop's threshold.
  const recentCrashes = [...t.state.recentCrashes.filter((at) => now - at < crashWindowMs), now]
  const young = w.readyAt !== undefined && now - w.readyAt < crashWindowMs
  const inLoop = t.state.loopCrashes > 0 ? young : recentCrashes.length > crashLoopCrashes
  const loopCrashes = inLoop ? t.state.loopCrashes + 1 : 0
  t.set({ recentCrashes, loopCrashes })
  if (inLoop) {
    const delayMs = t.backoffDelay(loopCrashes)
    t.log(Text.crashLoop(recentCrashes.length, crashWindowMs, loopCrashes, delayMs), w, "warn")
    t.holdSpawning(delayMs)
  }
  reconcile(t)
}

/** Writes the status; once a shutdown has no worker left to wait for, exits. */
const finishIfIdle = (t: Transition): void => {
  t.writeStatus()
  const m = t.mode
  if (m._tag !== "ShuttingDown" || t.state.workers.length > 0) return
  // A program that cannot run says so in its one line.
  if (m.signal !== "cannot-run") t.log(Text.exiting)
  t.set({ mode: Mode.Finished() })
  t.actions.push(A.Exit({ code: m.exitCode }))
}

// ---------------------------------------------------------------------------------------
// Events

const restartNow = (t: Transition, reason: RestartReason): void => {
  const line = Text.restarting(reason)
  if (line !== undefined) t.log(line)
  beginEpoch(t, reason)
}

const queueRestart = (t: Transition, reason: RestartReason): void => {
  if (t.mode._tag !== "RollingOut") return
  t.log(Text.restartQueued(reason))
  t.set({ mode: rollingOut(t.mode, { queued: reason }) })
  t.publish(Lifecycle.RestartQueued({ reason, epoch: t.state.epoch + 1 }))
}

const shutDown = (t: Transition, signal: "TERM" | "INT", origin: ShutdownOrigin): void => {
  // Perl: INT always sends TERM; only TERM uses --signal-on-term.
  const sent = signal === "TERM" ? t.config.signalOnTerm : { signal: "TERM" as const, label: "TERM" }
  t.set({ mode: Mode.ShuttingDown({ signal, exitCode: 0 }) })
  t.publish(Lifecycle.ShutdownStarted({ signal }))
  // Workers that already died before their alive check are gone: nothing to wait for.
  for (const w of t.state.workers) if (w.diedEarly !== undefined) t.remove(w.id)
  t.log(Text.stoppingAll(origin, signal, sent.label, t.state.workers))
  for (const w of t.state.workers) t.stop(w, sent)
  finishIfIdle(t)
}

/**
 * A new supervisor serves now: every worker retires as an outdated one does in a restart
 * (`--signal-on-hup` after `--kill-old-delay`, then the `--kill-timeout` ladder); none is
 * started again, and the supervisor exits once they are gone.
 */
const handOver = (t: Transition): void => {
  t.set({ mode: Mode.ShuttingDown({ signal: "handover", exitCode: 0 }) })
  t.publish(Lifecycle.ShutdownStarted({ signal: "handover" }))
  for (const w of t.state.workers) if (w.diedEarly !== undefined) t.remove(w.id)
  const leaving = t.state.workers.filter((w) => w.phase !== "draining")
  if (leaving.length > 0) {
    const { signalOnHup, killOldDelayMs } = t.config
    t.log(Text.handingOver(signalOnHup.label, leaving))
    if (killOldDelayMs > 0) {
      t.log(Text.retireDelay(killOldDelayMs))
      for (const w of leaving) t.update(w.id, { phase: "draining", signalled: false })
      t.schedule(killOldDelayMs, Event.RetireDue({ ids: leaving.map((w) => w.id) }))
    } else {
      t.log(Text.killingOld)
      for (const w of leaving) t.stop(w, signalOnHup)
    }
  }
  finishIfIdle(t)
}

const onSpawned = (t: Transition, id: number, pid: number): void => {
  const w = t.update(id, { pid })
  if (w === undefined) return
  t.log(Text.starting(pid), w)
  t.publish(Lifecycle.WorkerSpawned({ pid, generation: w.generation, index: w.index }))
  if (w.phase === "draining") {
    // Stopped before it existed (shutdown or give-up during the spawn).
    const m = t.mode
    const signal =
      m._tag === "ShuttingDown" && m.signal === "TERM"
        ? t.config.signalOnTerm
        : m._tag === "ShuttingDown" && m.signal === "handover"
          ? t.config.signalOnHup
          : { signal: "TERM" as const, label: "TERM" }
    return t.stop(w, signal)
  }
  const wait = isInterval(t.config.readiness) ? t.config.intervalMs : t.config.readyTimeoutMs
  t.schedule(wait, Event.ReadyDeadline({ id }))
}

/** A worker that never existed is gone: a shutdown has nothing more to wait for. */
const onSpawnFailedWhileStopping = (t: Transition, id: number, message: string): void => {
  if (t.find(id) === undefined) return
  // The other workers of a program that cannot run fail alike: its one line said it.
  if (!(t.mode._tag === "ShuttingDown" && t.mode.signal === "cannot-run")) t.log(message, undefined, "warn")
  t.remove(id)
  finishIfIdle(t)
}

type SpawnFailedEvent = Extract<EventT, { readonly _tag: "SpawnFailed" }>

const onSpawnFailed = (t: Transition, event: SpawnFailedEvent): void => {
  const { id, message, exitCode, reason, unexecutable } = event
  const w = t.find(id)
  if (w === undefined) return
  if (w.phase === "draining") {
    t.log(message, undefined, "warn")
    t.remove(id)
    return finishIfIdle(t)
  }
  const failure = RolloutFailure.SpawnFailed({ message, reason, exitCode, unexecutable })
  if (unexecutable !== undefined && cannotRun(t, w, failure, unexecutable)) return
  t.log(message, undefined, "warn")
  if (isInterval(t.config.readiness)) {
    // Perl's child exits (255 after a failed exec) and is noticed at the alive check.
    t.update(id, { diedEarly: failure })
    t.schedule(t.config.intervalMs, Event.ReadyDeadline({ id }))
    return
  }
  failStart(t, w, failure)
}

/**
 * Ours (Perl retries forever): a program that cannot be executed at all is not retried where
 * no retry can help and nobody is served meanwhile. At the first start, the supervisor exits
 * with the shell's codes (127: not found, 126: not executable); in a restart, the restart fails
 * at once and the old workers keep serving. Elsewhere (replacing a crashed worker), it is a
 * failed start as in Perl: the file may come back. Answers whether it was handled here.
 */
const cannotRun = (
  t: Transition,
  w: WorkerRecord,
  failure: Extract<RolloutFailure, { readonly _tag: "SpawnFailed" }>,
  unexecutable: Unexecutable
): boolean => {
  const s = t.state
  const m = s.mode
  const firstStart = !s.everReady
  const restart = m._tag === "RollingOut" && m.reason !== "boot" && outdatedWorkers(s).length > 0
  if (!firstStart && !restart) return false
  t.remove(w.id)
  t.publish(Lifecycle.StartFailed({ generation: w.generation, attempt: failuresOf(m) + 1, failure }))
  for (const other of startingWorkers(t.state)) t.stop(other, { signal: "TERM", label: "TERM" })
  t.publish(Lifecycle.RolloutAbandoned({ epoch: s.epoch, attempts: failuresOf(m) + 1, failure }))
  if (firstStart) {
    t.log(Text.cannotRunAtFirstStart(failure.message), undefined, "error")
    exitNow(t, "cannot-run", unexecutable === "not-found" ? 127 : 126)
    return true
  }
  t.log(failure.message, undefined, "warn")
  keepOldWorkers(t, Text.gaveUpRestartCannotRun(failure.reason, outdatedWorkers(t.state)))
  return true
}

/** The worker that exited, once its exit is published; `undefined`: already forgotten. */
const reap = (t: Transition, id: number, status: ExitStatus): WorkerRecord | undefined => {
  const w = t.find(id)
  if (w?.pid !== undefined) t.publish(Lifecycle.WorkerExited({ pid: w.pid, generation: w.generation, status }))
  return w
}

/**
 * Ours: an unmodified app (`app.listen(3000)`, the PM2 habit) binds the port itself, meets
 * EADDRINUSE because start_server holds it, and exits at once, for ever: with status 0 when
 * the error goes to its callback (Express 5's `app.listen`), often silently or after printing
 * "listening"; with status 1 when it is thrown, printing `Error: listen EADDRINUSE`. Nothing
 * outside the worker sees its failed bind, so the signs are its exits: by itself (no signal),
 * within `listenConflictWindowMs` of its spawn, never ready on a readiness channel, while
 * start_server holds a TCP port or unix path, and then
 * - status 0 or 1 with output (read when tagged or relayed) that said EADDRINUSE: the cause,
 *   named at once;
 * - status 0 twice in a row: a server that exits cleanly at once is the sign, named as the
 *   likely cause (a program that is no server at all gets the line too; it says "likely").
 * Status 1 without that output (a crash at start, a missing module) is never taken for it.
 * One line, at most once per release; any other exit, or a worker that reports ready, starts
 * the count again.
 */
export const listenConflictWindowMs = 5000

const noteListenConflict = (
  t: Transition,
  w: WorkerRecord,
  status: ExitStatus,
  saidAddressInUse: boolean | undefined
): void => {
  const s = t.state
  const quick =
    s.listening.length > 0 &&
    w.phase !== "draining" &&
    status.signal === null &&
    t.clock.now - w.spawnedAt < listenConflictWindowMs &&
    (isInterval(s.config.readiness) || w.readyAt === undefined)
  const certain = quick && (status.code === 0 || status.code === 1) && saidAddressInUse === true
  const suspect = certain || (quick && status.code === 0)
  const listenSuspects = suspect ? s.listenSuspects + 1 : 0
  t.set({ listenSuspects })
  if ((!certain && listenSuspects < 2) || s.listenHintEpoch === s.epoch || w.pid === undefined) return
  t.set({ listenHintEpoch: s.epoch })
  t.log(Text.listenConflict(w.pid, status, t.clock.now - w.spawnedAt, s.listening, certain), w, "warn")
}

const onExited = (t: Transition, id: number, status: ExitStatus, saidAddressInUse: boolean | undefined): void => {
  const w = reap(t, id, status)
  if (w === undefined) return
  noteListenConflict(t, w, status, saidAddressInUse)
  switch (w.phase) {
    case "starting":
      if (isInterval(t.config.readiness)) {
        t.update(id, { diedEarly: RolloutFailure.Exited({ status }) })
        return
      }
      return failStart(t, w, RolloutFailure.Exited({ status }))
    case "serving":
      if (w.epoch === t.state.epoch) return replaceCrashed(t, w, status)
      break
    case "draining":
      break
  }
  t.log(Text.retiredExited(w, status), w)
  t.remove(id)
  reconcile(t)
  // Perl checks the auto-restart clock whenever it wakes up, an old worker's death included.
  if (t.config.autoRestart !== undefined && !t.state.workers.some((x) => x.phase === "draining")) {
    onAutoRestartDue(t, t.state.autoRestartTimer)
  }
}

const onExitedWhileStopping = (t: Transition, id: number, status: ExitStatus): void => {
  const w = reap(t, id, status)
  if (w === undefined) return
  t.log(Text.exitedWhileStopping(w.pid, status), w)
  t.remove(id)
  finishIfIdle(t)
}

const onReadyDeadline = (t: Transition, id: number, detail: string | undefined): void => {
  const w = t.find(id)
  if (w === undefined || w.phase !== "starting") return
  if (!isInterval(t.config.readiness)) {
    return failStart(t, w, RolloutFailure.ReadyTimeout({ timeoutMs: t.config.readyTimeoutMs, detail }))
  }
  if (w.diedEarly !== undefined) return failStart(t, w, w.diedEarly)
  becomeReady(t, w)
}

const onReady = (t: Transition, id: number): void => {
  const w = t.find(id)
  if (w === undefined || w.phase !== "starting") return
  if (isInterval(t.config.readiness)) return
  becomeReady(t, w)
}

const onRetireDue = (t: Transition, ids: ReadonlyArray<number>): void => {
  const leaving = ids.flatMap((id) => {
    const w = t.find(id)
    return w !== undefined && w.phase === "draining" && !w.signalled ? [w] : []
  })
  if (leaving.length === 0) return
  t.log(Text.killingOld)
  for (const w of leaving) t.stop(w, t.config.signalOnHup)
}

const onKillDue = (t: Transition, id: number): void => {
  const w = t.find(id)
  if (w === undefined || w.pid === undefined) return
  t.log(Text.killing(w.pid, t.config.killTimeoutMs ?? 0), w, "warn")
  t.actions.push(A.Signal({ id, signal: "KILL" }))
}

/**
 * Perl: restart once `interval` has passed with no old worker left, forced at twice it.
 * Only while serving: a rollout under way is the restart, and a shutdown wants none.
 */
const onAutoRestartDue = (t: Transition, timer: number): void => {
  const auto = t.config.autoRestart
  const s = t.state
  if (auto === undefined || s.mode._tag !== "Serving" || timer !== s.autoRestartTimer) return
  const elapsed = t.clock.now - s.lastRestartAt
  if (elapsed < auto.intervalMs) return t.scheduleAutoRestart(auto.intervalMs - elapsed)
  const lingering = s.workers.some((w) => w.phase === "draining")
  if (lingering && elapsed < 2 * auto.intervalMs) return t.scheduleAutoRestart(2 * auto.intervalMs - elapsed)
  t.log(Text.autoRestartTriggered(lingering, auto.intervalMs))
  beginEpoch(t, "auto")
}

/** An envdir file changed a tunable: later restarts and auto-restart checks use the new value. */
const onTunablesChanged = (t: Transition, tunables: Tunables): void => {
  const before = t.config.autoRestart?.intervalMs
  t.set({ config: { ...t.config, ...tunables } })
  const after = tunables.autoRestart?.intervalMs
  if (after === before) return
  // Disabled: no check counts any more. Enabled or changed: check against the new interval.
  if (after === undefined) t.set({ autoRestartTimer: t.state.autoRestartTimer + 1 })
  else if (t.mode._tag === "Serving") t.scheduleAutoRestart(after - (t.clock.now - t.state.lastRestartAt))
}

const onScale = (t: Transition, workers: number): void => {
  if (workers < 1 || workers === t.config.workers) return
  t.log(Text.scaling(t.config.workers, workers))
  t.set({ config: { ...t.config, workers } })
  reconcile(t)
}

// ---------------------------------------------------------------------------------------
// Each mode's handling of each event

type On<K extends EventT["_tag"]> = (t: Transition, event: Extract<EventT, { readonly _tag: K }>) => void
type Handlers = { readonly [K in EventT["_tag"]]: On<K> }

const ignore = (): void => {}

/** What serving and rolling out handle alike: the supervisor keeps N workers ready. */
const live: Omit<Handlers, "RestartRequested" | "AutoRestartDue"> = {
  // Boot is the first event: it starts epoch 1.
  Boot: (t) => beginEpoch(t, "boot"),
  ShutdownRequested: (t, { signal, origin }) => shutDown(t, signal, origin ?? "signal"),
  Spawned: (t, { id, pid }) => onSpawned(t, id, pid),
  SpawnFailed: (t, event) => onSpawnFailed(t, event),
  Exited: (t, { id, status, saidAddressInUse }) => onExited(t, id, status, saidAddressInUse),
  Ready: (t, { id }) => onReady(t, id),
  ReadyDeadline: (t, { id, detail }) => onReadyDeadline(t, id, detail),
  RetryDue: (t) => reconcile(t),
  RetireDue: (t, { ids }) => onRetireDue(t, ids),
  KillDue: (t, { id }) => onKillDue(t, id),
  Alarm: ignore,
  TunablesChanged: (t, { tunables }) => onTunablesChanged(t, tunables),
  Scale: (t, { workers }) => onScale(t, workers),
  HandOver: (t) => handOver(t)
}

const byMode: { readonly [M in Exclude<Mode["_tag"], "Finished">]: Handlers } = {
  RollingOut: {
    ...live,
    RestartRequested: (t, { reason }) => queueRestart(t, reason),
    // The rollout under way is the restart; completing it re-arms the clock.
    AutoRestartDue: ignore
  },
  Serving: {
    ...live,
    RestartRequested: (t, { reason }) => restartNow(t, reason),
    AutoRestartDue: (t, { timer }) => onAutoRestartDue(t, timer)
  },
  // Only the workers' ends matter now, and the timers that hasten them.
  ShuttingDown: {
    Boot: ignore,
    RestartRequested: ignore,
    ShutdownRequested: ignore,
    Spawned: live.Spawned,
    SpawnFailed: (t, { id, message }) => onSpawnFailedWhileStopping(t, id, message),
    Exited: (t, { id, status }) => onExitedWhileStopping(t, id, status),
    Ready: ignore,
    ReadyDeadline: ignore,
    RetryDue: (t) => finishIfIdle(t),
    RetireDue: live.RetireDue,
    KillDue: live.KillDue,
    AutoRestartDue: ignore,
    Alarm: ignore,
    TunablesChanged: live.TunablesChanged,
    Scale: ignore,
    HandOver: ignore
  }
}

/** Generic in the tag, so that the handler found is the one for this event's type. */
const dispatch = <K extends EventT["_tag"]>(
  handlers: Handlers,
  t: Transition,
  event: Extract<EventT, { readonly _tag: K }>
): void => handlers[event._tag](t, event)

export interface Step {
  readonly state: State
  readonly actions: ReadonlyArray<Action>
}

export const step = (state: State, event: EventT, clock: Clock): Step => {
  if (state.mode._tag === "Finished") return { state, actions: [] }
  const t = new Transition(state, clock)
  dispatch(byMode[state.mode._tag], t, event)
  return { state: t.state, actions: t.actions }
}
