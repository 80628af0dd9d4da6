import { type Clock, MAX_TIMER_DELAY_MS, systemClock } from "../clock.ts";
import { describeError, SdkClientError, SdkErrorCode } from "../errors.ts";
import { Message } from "../message.ts";
import { Response } from "../response.ts";
import { createTelemetry, type Telemetry } from "../telemetry.ts";
import type { Alarm, AlarmStore, DeadLetter } from "./alarm-store.ts";
import { applyPinned, capturePinned, checkPinnedKeys, DEFAULT_PINNED_ASSIGNS } from "./pinned-assigns.ts";
import { type DeliveryVerdict, defaultServiceResponded, isDenial, type RetryVerdict } from "./verdict.ts";

/**
 * What the scheduler dispatches through: a `SystemNode` is one.
 *
 * @example
 * const dispatcher: SchedulerDispatcher = createNode();
 */
export interface SchedulerDispatcher {
  /** Delivers the message within `timeoutMs`; answers the resolved message (a throw counts as a failed attempt). */
  dispatch(message: Message, options: { timeoutMs: number }): Promise<Message>;
}

/**
 * Retries of one occurrence: the n-th retry waits `min(maxDelayMs, initialDelayMs × factor^(n−1))`.
 *
 * @example
 * createScheduler({ dispatcher, store, retry: { maxAttempts: 10, maxDelayMs: 60_000 } });
 */
export interface RetryPolicy {
  /** Dispatches of one occurrence before it becomes a dead letter. @default 5 */
  maxAttempts?: number;
  /** @default 1_000 */
  initialDelayMs?: number;
  /** @default 2 */
  factor?: number;
  /** @default 3_600_000 (1 h) */
  maxDelayMs?: number;
}

/**
 * Options of `createScheduler`.
 *
 * @example
 * const options: SchedulerOptions = { dispatcher: node, store: createMemoryAlarmStore(), clock };
 */
export interface SchedulerOptions {
  dispatcher: SchedulerDispatcher;
  store: AlarmStore;
  /** @default systemClock */
  clock?: Clock;
  /** How often the window is reloaded; it always reaches `2 ×` this far ahead. @default 21_600_000 (6 h) */
  inMemoryIntervalMs?: number;
  /** Timeout of each dispatch. @default () => 5_000 */
  dispatchTimeoutMs?: (message: Message) => number;
  retry?: RetryPolicy;
  /** Runs in `schedule()` before the alarm is saved; a returned message replaces the scheduled one. */
  saveAlarm?: (message: Message, aggregateId: string | undefined) => Message | undefined;
  /**
   * Judges each delivery: done, retry (optionally later, or with a replacement message), or failed (a
   * dead letter at once). @default defaultServiceResponded: success is done, no provider is a retry,
   * any other answer (a denial, a validation error, `not_found`, an error) is a final failure
   */
  serviceResponded?: (resolved: Message) => DeliveryVerdict;
  /**
   * Assigns that say on whose behalf a message runs: taken from the message given to `schedule()`, kept
   * with the alarm, and set again at every dispatch exactly as they were (a key absent then stays absent),
   * so no `saveAlarm`, reply or retry can give a scheduled message a principal it was not scheduled with.
   * @default ["principal"]
   */
  readonly pinnedAssigns?: readonly string[];
  /**
   * Most alarms held in memory at once (each is a timer holding its alarm). A bigger window, or the
   * backlog after downtime, is loaded from the store in pages of this size, earliest first, as deliveries
   * finish: memory stays bounded whatever the backlog. @default 1_000
   */
  readonly maxInMemory?: number;
  /** Called once an alarm has been moved to the dead letters. */
  onDeadLetter?: (letter: DeadLetter) => void;
  /** Where `alarm_*` events go (`alarm_store_failed` reports store errors the scheduler recovers from). @default a new bus */
  readonly telemetry?: Telemetry;
}

/**
 * When to dispatch (exactly one of `inMs` and `at`, epoch ms), and optionally how often to repeat.
 *
 * @example
 * await scheduler.schedule(msg, { at: offer.expiresAt, everyMs: 86_400_000 });
 */
export type ScheduleOptions = ({ inMs: number; at?: never } | { at: number; inMs?: never }) & {
  /** Stored with the alarm and passed to `saveAlarm`. */
  aggregateId?: string;
  /** Repeat period in ms. */
  everyMs?: number;
};

/**
 * A repeating schedule (Spawn's InvocationScheduler repeat): every `everyMs`, the first one `firstInMs` from now.
 *
 * @example
 * await scheduler.repeat(Message.new("sync_prices"), { everyMs: 60_000, firstInMs: 0 });
 */
export interface RepeatOptions {
  /** Period in ms (positive). */
  everyMs: number;
  /** Delay of the first occurrence in ms. @default everyMs */
  firstInMs?: number;
  /** Stored with the alarm and passed to `saveAlarm`. */
  aggregateId?: string;
}

/**
 * A running repeating schedule: its id (the message's id; `cancel(id)` works with it later too) and its cancel.
 *
 * @example
 * const handle = await scheduler.repeat(msg, { everyMs: 1_000 });
 * await handle.cancel(); // true: no further occurrences
 */
export interface RepeatHandle {
  readonly id: string;
  /** Stops the series; resolves whether it was still scheduled. */
  cancel(): Promise<boolean>;
}

/**
 * What callers of every substrate's scheduler use, with the same signatures: the memory scheduler
 * (`createScheduler`) and a Durable Objects scheduler object (`schedulerClient(stub)` from
 * `x3m-system/durable-objects`).
 *
 * @example
 * async function everyMinute(scheduler: ScheduleClient, msg: Message) {
 *   return scheduler.repeat(msg, { everyMs: 60_000 });
 * }
 */
export interface ScheduleClient {
  /** Saves the alarm (replacing one with the same message id) to dispatch `message` once, or every `everyMs`. */
  schedule(message: Message, options: ScheduleOptions): Promise<void>;
  /** Dispatches `message` every `everyMs` until cancelled; each occurrence gets its own id (`${id}.${slot}`). */
  repeat(message: Message, options: RepeatOptions): Promise<RepeatHandle>;
  /** Removes the alarm scheduled with this message id (a whole repeating series); resolves whether there was one. */
  cancel(id: string): Promise<boolean>;
}

/**
 * A persistent scheduler: dispatches messages later, at least once, with retries and dead letters.
 *
 * @example
 * const scheduler = createScheduler({ dispatcher: node, store: createMemoryAlarmStore() });
 * await scheduler.start();
 * await scheduler.schedule(Message.new("send_reminder"), { inMs: 60_000 });
 */
export interface Scheduler extends ScheduleClient {
  /** Loads the window and keeps reloading it every `inMemoryIntervalMs`. Rejects (stopped) if the first load fails. */
  start(): Promise<void>;
  /** Disarms every timer; deliveries under way still write their outcome to the store. */
  stop(): void;
  /** Every alarm that failed `maxAttempts` times, oldest failure first, with its last response. */
  deadLetters(): Promise<DeadLetter[]>;
  /** Schedules a dead letter again, now, with its attempts reset; resolves whether there was one. */
  replayDeadLetter(id: string): Promise<boolean>;
  /** Alarms armed in memory right now (the window, at most `maxInMemory`), not all stored ones. */
  readonly inMemoryCount: number;
  /**
   * Resolves when no delivery and no load is under way (including deliveries that finish by starting
   * others, and the next page of a backlog). A host whose work must end with its handler awaits it, e.g. a
   * Durable Object's `alarm()`.
   */
  settled(): Promise<void>;
}

const DEFAULT_INTERVAL_MS = 21_600_000;
const DEFAULT_MAX_IN_MEMORY = 1_000;

function misuse(text: string): SdkClientError {
  return new SdkClientError(SdkErrorCode.INVALID_SCHEDULE, text);
}

function dueTime(options: ScheduleOptions, now: number): number {
  const { inMs, at } = options as { inMs?: number; at?: number };
  const dispatchAt = at === undefined ? now + (inMs ?? Number.NaN) : inMs === undefined ? at : Number.NaN;
  if (!Number.isFinite(dispatchAt)) throw misuse("schedule needs exactly one of inMs and at, a finite number of ms");
  return dispatchAt;
}

/** The first slot of a repeating alarm after `scheduledFor` that is not already past: missed slots are skipped. */
function nextSlot(scheduledFor: number, everyMs: number, now: number): number {
  return scheduledFor + everyMs * Math.max(1, Math.ceil((now - scheduledFor) / everyMs));
}

/** Each occurrence gets its own deterministic id: aggregates de-duplicate by message id. */
function occurrenceId(scheduleId: string, at: number): string {
  return `${scheduleId}.${at}`;
}

/** The assigns `saveAlarm` and the store see before any dispatch (as in the original); a parent's `late` goes. */
function beforeFirstDispatch(message: Message, at: number): Message {
  const { late: _late, ...assigns } = message.assigns;
  return message.with({ assigns: { ...assigns, dispatchAt: at, dispatchAttempts: 0 } });
}

/** The original's reset before a retry: the answer goes, the assigns stay. */
function resetForRetry(message: Message): Message {
  return message.with({ request: undefined, valid: true, response: null, events: [], halted: false });
}

/** An armed alarm: its timer's cancel, and its place in the (dispatchAt, id) order. */
interface ArmedAlarm {
  readonly cancel: () => void;
  readonly dispatchAt: number;
  readonly id: string;
}

/**
 * How far the alarms held in memory reach, in (dispatchAt, id) order: every stored alarm before it is armed
 * or under way, later ones wait in the store. `lastId` is set when a page of the store ended at `at`.
 */
interface Horizon {
  readonly at: number;
  readonly lastId?: string;
}

const CLOSED: Horizon = { at: Number.NEGATIVE_INFINITY };

/** `!(a < b)` also rejects a NaN time from a lax store. */
function within(alarm: { readonly dispatchAt: number; readonly id: string }, horizon: Horizon): boolean {
  if (alarm.dispatchAt < horizon.at) return true;
  return alarm.dispatchAt === horizon.at && horizon.lastId !== undefined && alarm.id <= horizon.lastId;
}

function isBefore(a: { readonly dispatchAt: number; readonly id: string }, b: typeof a): boolean {
  return a.dispatchAt < b.dispatchAt || (a.dispatchAt === b.dispatchAt && a.id < b.id);
}

function earlier(a: Horizon, b: Horizon): Horizon {
  if (a.at !== b.at) return a.at < b.at ? a : b;
  if (a.lastId === undefined || b.lastId === undefined) return a.lastId === undefined ? a : b;
  return a.lastId <= b.lastId ? a : b;
}

type DeadLetterCause = "denied" | "rejected" | "exhausted" | "unparseable";

/**
 * Creates a scheduler over `store` that dispatches through `dispatcher`. Alarms due within
 * `2 × inMemoryIntervalMs` are armed as one Clock timer each, at most `maxInMemory` at once (the
 * earliest); later ones stay in the store until a reload or the next page reaches them. One scheduler
 * per store.
 *
 * @example
 * import { createMemoryAlarmStore, createScheduler, Message } from "x3m-system";
 * const scheduler = createScheduler({ dispatcher: node, store: createMemoryAlarmStore() });
 * await scheduler.start();
 * await scheduler.schedule(Message.new("expire_offer", { rawRequest: { id: "o-1" } }), { inMs: 86_400_000 });
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  const { dispatcher, store } = options;
  const clock = options.clock ?? systemClock;
  const telemetry = options.telemetry ?? createTelemetry();
  const storeFailed = (op: "load" | "write", error: unknown, id?: string) =>
    telemetry.emit("alarm_store_failed", {}, { op, id, error: describeError(error) });
  const intervalMs = options.inMemoryIntervalMs ?? DEFAULT_INTERVAL_MS;
  if (!(intervalMs > 0 && 2 * intervalMs <= MAX_TIMER_DELAY_MS)) {
    throw misuse(
      `inMemoryIntervalMs must be positive and at most ${Math.floor(MAX_TIMER_DELAY_MS / 2)} ms (12.4 days)`,
    );
  }
  const maxInMemory = options.maxInMemory ?? DEFAULT_MAX_IN_MEMORY;
  if (!(Number.isSafeInteger(maxInMemory) && maxInMemory > 0)) throw misuse("maxInMemory must be a positive integer");
  const pinnedKeys = options.pinnedAssigns ?? DEFAULT_PINNED_ASSIGNS;
  checkPinnedKeys(pinnedKeys);
  const timeoutFor = options.dispatchTimeoutMs ?? (() => 5_000);
  const verdictFor = options.serviceResponded ?? defaultServiceResponded;
  const maxAttempts = options.retry?.maxAttempts ?? 5;
  const initialDelayMs = options.retry?.initialDelayMs ?? 1_000;
  const factor = options.retry?.factor ?? 2;
  const maxDelayMs = options.retry?.maxDelayMs ?? 3_600_000;
  // A NaN delay would leave an alarm stored forever and never loaded.
  if (![maxAttempts, initialDelayMs, factor, maxDelayMs].every((n) => Number.isFinite(n) && n >= 0)) {
    throw misuse("retry settings must be finite, non-negative numbers");
  }

  /** The armed timers, by alarm id. */
  const armed = new Map<string, ArmedAlarm>();
  /** Deliveries under way; `superseded` once the id is rescheduled or cancelled meanwhile. */
  const inFlight = new Map<string, { superseded: boolean }>();
  const deliveries = new Set<Promise<void>>();
  /** One queue per id, so one alarm's store writes never interleave (a delivery settling vs a reschedule). */
  const queues = new Map<string, Promise<unknown>>();
  /** Ids changed while a load's query runs: its answer may predate the change. */
  let touchedDuringLoad: Set<string> | undefined;
  let loads: Promise<void> = Promise.resolve();
  /** A load waiting for the one before it: asking again joins it. */
  let queuedLoad: Promise<void> | undefined;
  let pendingLoads = 0;
  let horizon = CLOSED;
  /** The store may hold alarms due in the window that are not armed: the next page loads once memory has room. */
  let truncated = false;
  /** No armed alarm is due later than this (an upper bound: it spares most `makeRoom` scans). */
  let latestArmed = Number.NEGATIVE_INFINITY;
  let running = false;
  let cancelTick: (() => void) | undefined;

  function serialized<TResult>(id: string, task: () => Promise<TResult>): Promise<TResult> {
    const result = (queues.get(id) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    queues.set(id, tail);
    void tail.then(() => {
      if (queues.get(id) === tail) queues.delete(id);
    });
    return result;
  }

  function disarm(id: string): void {
    armed.get(id)?.cancel();
    armed.delete(id);
  }

  /** The caller now owns `id` (runs inside its queue): the old timer goes, a delivery under way must not write back. */
  function takeOver(id: string): void {
    disarm(id);
    const flight = inFlight.get(id);
    if (flight) flight.superseded = true;
    touchedDuringLoad?.add(id);
  }

  /** The armed alarm due last (a scan of at most `maxInMemory`, only when an earlier alarm needs room). */
  function latestArmedAlarm(): ArmedAlarm | undefined {
    let latest: ArmedAlarm | undefined;
    for (const entry of armed.values()) if (!latest || isBefore(latest, entry)) latest = entry;
    return latest;
  }

  /**
   * Memory is full: `alarm` takes the place of the armed alarm due last when it is due before it, else it
   * waits in the store. Either way the horizon moves back to the one left out, so every stored alarm
   * before it is still armed, and the next page brings the rest.
   */
  function makeRoom(alarm: Alarm): boolean {
    const latest = alarm.dispatchAt <= latestArmed ? latestArmedAlarm() : undefined;
    const evicted = latest && isBefore(alarm, latest) ? latest : undefined;
    horizon = earlier(horizon, { at: (evicted ?? alarm).dispatchAt });
    truncated = true;
    if (!evicted) {
      if (latest) latestArmed = latest.dispatchAt;
      return false;
    }
    disarm(evicted.id);
    return true;
  }

  function arm(alarm: Alarm): void {
    // Beyond the horizon (or stopped): a later load or page arms it.
    if (!running || !within(alarm, horizon)) return;
    disarm(alarm.id);
    if (armed.size >= maxInMemory && !makeRoom(alarm)) return;
    const delayMs = alarm.dispatchAt - clock.now();
    // `late` is decided when arming: a real timer always fires a little after its time.
    const cancel = clock.setTimeout(
      () => {
        armed.delete(alarm.id);
        const delivery = deliver(alarm, delayMs < 0);
        deliveries.add(delivery);
        void delivery.finally(() => deliveries.delete(delivery));
      },
      Math.max(0, delayMs),
    );
    armed.set(alarm.id, { cancel, dispatchAt: alarm.dispatchAt, id: alarm.id });
    latestArmed = Math.max(latestArmed, alarm.dispatchAt);
  }

  async function loadWindow(): Promise<void> {
    if (!running) return;
    const touched = new Set<string>();
    touchedDuringLoad = touched;
    // The window is "now + 2 × interval" at every load (no drift), and it moves before the query so that
    // an alarm scheduled while the query runs is armed by schedule() itself (or narrows it, memory full).
    const until = clock.now() + 2 * intervalMs;
    const wide: Horizon = { at: until };
    horizon = wide;
    try {
      const page = (await store.loadDue(until, maxInMemory)).slice(0, maxInMemory);
      if (!running) return;
      const last = page.at(-1);
      const full = page.length >= maxInMemory && last !== undefined;
      horizon = earlier(horizon, full ? { at: last.dispatchAt, lastId: last.id } : wide);
      truncated = full || horizon !== wide;
      // What is armed beyond the page's end goes back to the store: the page holds the earliest alarms.
      latestArmed = Number.NEGATIVE_INFINITY;
      for (const entry of [...armed.values()]) {
        if (within(entry, horizon)) latestArmed = Math.max(latestArmed, entry.dispatchAt);
        else disarm(entry.id);
      }
      for (const alarm of page) {
        if (!armed.has(alarm.id) && !inFlight.has(alarm.id) && !touched.has(alarm.id)) arm(alarm);
      }
    } finally {
      touchedDuringLoad = undefined;
    }
  }

  /** Loads run one at a time; asking while one waits for its turn joins that one. */
  function load(): Promise<void> {
    if (queuedLoad) return queuedLoad;
    pendingLoads++;
    const next = loads.then(() => {
      queuedLoad = undefined;
      return loadWindow();
    });
    queuedLoad = next;
    loads = next.then(
      () => {
        pendingLoads--;
        refillIfRoom();
      },
      // A failed load is not chained into another (a broken store would spin): a delivery or the tick retries.
      () => {
        pendingLoads--;
      },
    );
    return next;
  }

  /** A load nobody awaits: a failure is reported, and the next tick or page tries again. */
  function reload(): void {
    load().catch((error) => storeFailed("load", error));
  }

  /** The next page of a backlog once three quarters of memory are free (a quarter still queued, so deliveries never wait for it). */
  function refillIfRoom(): void {
    if (running && truncated && pendingLoads === 0 && armed.size + inFlight.size <= maxInMemory / 4) reload();
  }

  function tick(): void {
    cancelTick = clock.setTimeout(tick, intervalMs);
    // A failed load is simply retried at the next tick: loadDue has no lower bound, so nothing is skipped.
    reload();
  }

  async function deliver(alarm: Alarm, late: boolean): Promise<void> {
    const flight = { superseded: false };
    inFlight.set(alarm.id, flight);
    try {
      const parsed = Message.safeParse(alarm.message);
      const writeBack = parsed.ok
        ? await attempt(alarm, parsed.value, late)
        : () => moveToDeadLetters(alarm, Response.error({ exception: describeError(parsed.error) }), "unparseable");
      await serialized(alarm.id, async () => {
        if (flight.superseded) return;
        touchedDuringLoad?.add(alarm.id);
        await writeBack();
      });
    } catch (error) {
      // The store failed: the alarm is still stored as it was, and the next load delivers it again.
      storeFailed("write", error, alarm.id);
    } finally {
      if (inFlight.get(alarm.id) === flight) inFlight.delete(alarm.id);
      refillIfRoom();
    }
  }

  /** A retry verdict's replacement, validated like a scheduled message, under the id that was sent. */
  function replacementOf(verdict: DeliveryVerdict, sent: Message): Message | undefined {
    const replacement = typeof verdict === "object" && verdict !== null ? verdict.message : undefined;
    return replacement && Message.parse({ ...Message.parse(replacement).toJSON(), id: sent.id });
  }

  /** Dispatches once and resolves the store write that records the outcome. */
  async function attempt(alarm: Alarm, stored: Message, late: boolean): Promise<() => Promise<void>> {
    const assigns = { ...stored.assigns, dispatchAttempts: alarm.attempts + 1, dispatchAt: alarm.scheduledFor, late };
    const message = applyPinned(stored.with({ assigns }), alarm, pinnedKeys);
    let resolved = message;
    let verdict: DeliveryVerdict;
    let replacement: Message | undefined;
    try {
      resolved = await dispatcher.dispatch(message, { timeoutMs: timeoutFor(message) });
      verdict = verdictFor(resolved);
      replacement = replacementOf(verdict, message);
    } catch (error) {
      // A throwing dispatcher or hook is a failed delivery like any other: never the scheduler's end.
      resolved = resolved.return(Response.error({ exception: describeError(error) }));
      verdict = "retry";
    }
    const time = clock.now();
    telemetry.emit(
      "alarm_dispatched",
      { time, attempts: alarm.attempts + 1, lateBy: Math.max(0, time - alarm.dispatchAt) },
      { id: alarm.id, message: resolved, verdict },
    );
    if (verdict === "done") return () => completed(alarm, message);
    // The next attempt's message: its answer cleared, on behalf of the principal it was scheduled with.
    const next: Alarm = {
      ...alarm,
      message: applyPinned(resetForRetry(replacement ?? resolved), alarm, pinnedKeys).toJSON(),
      attempts: alarm.attempts + 1,
    };
    const response = resolved.response ?? Response.error("no_response");
    if (verdict === "failed")
      return () => moveToDeadLetters(next, response, isDenial(response) ? "denied" : "rejected");
    return () => failed(next, response, verdict);
  }

  async function completed(alarm: Alarm, sent: Message): Promise<void> {
    if (alarm.everyMs === undefined) {
      await store.delete(alarm.id);
      return;
    }
    const at = nextSlot(alarm.scheduledFor, alarm.everyMs, clock.now());
    const message = beforeFirstDispatch(sent.with({ id: occurrenceId(alarm.id, at) }), at);
    const next: Alarm = { ...alarm, message: message.toJSON(), dispatchAt: at, scheduledFor: at, attempts: 0 };
    await store.save(next);
    arm(next);
  }

  /** A retry of `retried` (attempts already counted), or its dead letter once they are used up. */
  async function failed(retried: Alarm, response: Response, verdict: "retry" | RetryVerdict): Promise<void> {
    const { attempts } = retried;
    if (attempts >= maxAttempts) {
      await moveToDeadLetters(retried, response, "exhausted");
      return;
    }
    const asked = typeof verdict === "object" && verdict !== null ? (verdict.retryInMs ?? Number.NaN) : Number.NaN;
    const delayMs =
      Number.isFinite(asked) && asked >= 0 ? asked : Math.min(maxDelayMs, initialDelayMs * factor ** (attempts - 1));
    const next: Alarm = { ...retried, dispatchAt: clock.now() + delayMs };
    // Persisted before it is armed: a stop now still leaves the retry in the store.
    await store.save(next);
    arm(next);
    telemetry.emit(
      "alarm_retry_scheduled",
      { dispatchAt: next.dispatchAt, delayMs, attempts },
      { id: retried.id, response },
    );
  }

  async function moveToDeadLetters(alarm: Alarm, reason: Response, cause: DeadLetterCause): Promise<void> {
    const letter: DeadLetter = { alarm, reason, failedAt: clock.now() };
    await store.moveToDeadLetters(letter);
    telemetry.emit(
      "alarm_dead_lettered",
      { time: letter.failedAt, attempts: alarm.attempts },
      { id: alarm.id, reason, cause },
    );
    try {
      options.onDeadLetter?.(letter);
    } catch {
      // A broken hook must not undo the move or make the delivery look failed.
    }
  }

  function stop(): void {
    running = false;
    cancelTick?.();
    cancelTick = undefined;
    for (const entry of armed.values()) entry.cancel();
    armed.clear();
    horizon = CLOSED;
    truncated = false;
    latestArmed = Number.NEGATIVE_INFINITY;
  }

  const scheduler: Scheduler = {
    async start() {
      if (running) return;
      running = true;
      try {
        await load();
      } catch (error) {
        stop();
        throw error;
      }
      if (!running) return;
      cancelTick?.();
      cancelTick = clock.setTimeout(tick, intervalMs);
    },
    stop,
    async schedule(message, scheduleOptions) {
      const dispatchAt = dueTime(scheduleOptions, clock.now());
      const { aggregateId, everyMs } = scheduleOptions;
      if (everyMs !== undefined && !(Number.isFinite(everyMs) && everyMs > 0)) {
        throw misuse("everyMs must be a positive number of ms");
      }
      if (message.halted) throw misuse("a halted message cannot be scheduled: it would never reach a service");
      const id = message.id;
      const first = beforeFirstDispatch(
        everyMs === undefined ? message : message.with({ id: occurrenceId(id, dispatchAt) }),
        dispatchAt,
      );
      const saved = options.saveAlarm?.(first, aggregateId) ?? first;
      // Parsed once here so that the store only ever holds messages that will parse at delivery.
      const data = Message.parse(saved.toJSON()).toJSON();
      // Pinned as the caller handed the message over: `saveAlarm` cannot change on whose behalf it runs.
      const pinned = capturePinned(saved === first ? data.assigns : Message.parse(first.toJSON()).assigns, pinnedKeys);
      const alarm: Alarm = {
        id,
        message: data,
        dispatchAt,
        scheduledFor: dispatchAt,
        attempts: 0,
        ...(aggregateId === undefined ? {} : { aggregateId }),
        ...(everyMs === undefined ? {} : { everyMs }),
        pinned,
      };
      await serialized(id, async () => {
        takeOver(id);
        await store.save(alarm);
        arm(alarm);
      });
      telemetry.emit("alarm_scheduled", { dispatchAt }, { id, aggregateId, everyMs, message: data });
    },
    async repeat(message, repeatOptions) {
      const { everyMs, firstInMs, aggregateId } = repeatOptions;
      if (!(Number.isFinite(everyMs) && everyMs > 0)) throw misuse("repeat needs everyMs, a positive number of ms");
      await scheduler.schedule(message, {
        inMs: firstInMs ?? everyMs,
        everyMs,
        ...(aggregateId === undefined ? {} : { aggregateId }),
      });
      return { id: message.id, cancel: () => scheduler.cancel(message.id) };
    },
    async cancel(id) {
      const existed = await serialized(id, async () => {
        takeOver(id);
        return store.delete(id);
      });
      refillIfRoom();
      return existed;
    },
    deadLetters: () => store.listDeadLetters(),
    replayDeadLetter(id) {
      return serialized(id, async () => {
        const letter = (await store.listDeadLetters()).find((candidate) => candidate.alarm.id === id);
        if (!letter) return false;
        takeOver(id);
        const alarm: Alarm = { ...letter.alarm, dispatchAt: clock.now(), attempts: 0 };
        // Saved before the dead letter goes: a crash in between leaves both, never neither.
        await store.save(alarm);
        await store.deleteDeadLetter(id);
        arm(alarm);
        return true;
      });
    },
    get inMemoryCount() {
      return armed.size;
    },
    async settled() {
      while (deliveries.size > 0 || pendingLoads > 0) await Promise.allSettled([...deliveries, loads]);
    },
  };
  return scheduler;
}
