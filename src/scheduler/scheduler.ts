import { type Clock, systemClock } from "../clock.ts";
import { SdkClientError, SdkErrorCode } from "../errors.ts";
import { Message } from "../message.ts";
import { Response } from "../response.ts";
import { describeError } from "../serve.ts";
import { createTelemetry, type Telemetry } from "../telemetry.ts";
import type { Alarm, AlarmStore, DeadLetter } from "./alarm-store.ts";

/**
 * What the scheduler dispatches through: a `SystemNode` is one.
 *
 * @example
 * const dispatcher: SchedulerDispatcher = createNode();
 */
export interface SchedulerDispatcher {
  dispatch(message: Message, options: { timeoutMs: number }): Promise<Message>;
}

/**
 * After a delivery: `"done"` forgets it (or schedules a repeating alarm's next occurrence), `"retry"`
 * retries with exponential backoff, `{ retryInMs }` retries after that delay. Every retry counts
 * towards `maxAttempts`.
 *
 * @example
 * const verdict: DeliveryVerdict = resolved.response?.status === "error" ? { retryInMs: 60_000 } : "done";
 */
export type DeliveryVerdict = "done" | "retry" | { readonly retryInMs: number };

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
  /** Judges each delivery. @default defaultServiceResponded */
  serviceResponded?: (resolved: Message) => DeliveryVerdict;
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
  deadLetters(): Promise<DeadLetter[]>;
  /** Schedules a dead letter again, now, with its attempts reset; resolves whether there was one. */
  replayDeadLetter(id: string): Promise<boolean>;
  /** Alarms armed in memory right now (the window), not all stored ones. */
  readonly inMemoryCount: number;
  /**
   * Resolves when no delivery is under way (including deliveries that finish by starting others). A host
   * whose work must end with its handler awaits it, e.g. a Durable Object's `alarm()`.
   */
  settled(): Promise<void>;
}

const DEFAULT_INTERVAL_MS = 21_600_000;
// The largest delay setTimeout honours everywhere; a longer one fires at once. Timers never exceed the window.
const MAX_TIMER_MS = 2_147_483_647;
const RETRYABLE: ReadonlySet<string> = new Set(["service_unavailable", "service_timeout", "no_nodes_available"]);

/**
 * The default `serviceResponded`: retry when no provider answered (`service_unavailable`,
 * `service_timeout`, `no_nodes_available`), done for any answer the service gave.
 *
 * @example
 * serviceResponded: (m) => (m.response?.status === "error" ? "retry" : defaultServiceResponded(m)),
 */
export function defaultServiceResponded(resolved: Message): DeliveryVerdict {
  return resolved.response && RETRYABLE.has(resolved.response.status) ? "retry" : "done";
}

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

/** The assigns `saveAlarm` and the store see before any dispatch (as in the original). */
function beforeFirstDispatch(message: Message, at: number): Message {
  return message.with({ assigns: { ...message.assigns, dispatchAt: at, dispatchAttempts: 0 } });
}

/** The original's reset before a retry: the answer goes, the assigns stay. */
function resetForRetry(message: Message): Message {
  return message.with({ request: undefined, valid: true, response: null, events: [], halted: false });
}

/**
 * Creates a scheduler over `store` that dispatches through `dispatcher`. Alarms due within
 * `2 × inMemoryIntervalMs` are armed as one Clock timer each; later ones stay in the store until a
 * reload reaches them. One scheduler per store.
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
  if (!(intervalMs > 0 && 2 * intervalMs <= MAX_TIMER_MS)) {
    throw misuse(`inMemoryIntervalMs must be positive and at most ${Math.floor(MAX_TIMER_MS / 2)} ms (12.4 days)`);
  }
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

  /** Cancel functions of the armed timers, by alarm id. */
  const armed = new Map<string, () => void>();
  /** Deliveries under way; `superseded` once the id is rescheduled or cancelled meanwhile. */
  const inFlight = new Map<string, { superseded: boolean }>();
  const deliveries = new Set<Promise<void>>();
  /** One queue per id, so one alarm's store writes never interleave (a delivery settling vs a reschedule). */
  const queues = new Map<string, Promise<unknown>>();
  /** Ids changed while a load's query runs: its answer may predate the change. */
  let touchedDuringLoad: Set<string> | undefined;
  let loads: Promise<void> = Promise.resolve();
  let loadedUntil = Number.NEGATIVE_INFINITY;
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
    armed.get(id)?.();
    armed.delete(id);
  }

  /** The caller now owns `id` (runs inside its queue): the old timer goes, a delivery under way must not write back. */
  function takeOver(id: string): void {
    disarm(id);
    const flight = inFlight.get(id);
    if (flight) flight.superseded = true;
    touchedDuringLoad?.add(id);
  }

  function arm(alarm: Alarm): void {
    // Outside the window (or stopped): a later load arms it. `!(a < b)` also rejects a NaN from a lax store.
    if (!running || !(alarm.dispatchAt < loadedUntil)) return;
    disarm(alarm.id);
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
    armed.set(alarm.id, cancel);
  }

  async function loadWindow(): Promise<void> {
    if (!running) return;
    const touched = new Set<string>();
    touchedDuringLoad = touched;
    // The window is "now + 2 × interval" at every load (no drift), and it moves before the query so that
    // an alarm scheduled while the query runs is armed by schedule() itself.
    loadedUntil = clock.now() + 2 * intervalMs;
    try {
      for (const alarm of await store.loadDue(loadedUntil)) {
        if (!armed.has(alarm.id) && !inFlight.has(alarm.id) && !touched.has(alarm.id)) arm(alarm);
      }
    } finally {
      touchedDuringLoad = undefined;
    }
  }

  /** Loads run one at a time. */
  function load(): Promise<void> {
    const next = loads.then(loadWindow);
    loads = next.catch(() => undefined);
    return next;
  }

  function tick(): void {
    cancelTick = clock.setTimeout(tick, intervalMs);
    // A failed load is simply retried at the next tick: loadDue has no lower bound, so nothing is skipped.
    load().catch((error) => storeFailed("load", error));
  }

  async function deliver(alarm: Alarm, late: boolean): Promise<void> {
    const flight = { superseded: false };
    inFlight.set(alarm.id, flight);
    try {
      const parsed = Message.safeParse(alarm.message);
      const writeBack = parsed.ok
        ? await attempt(alarm, parsed.value, late)
        : () => moveToDeadLetters(alarm, Response.error({ exception: describeError(parsed.error) }));
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
    }
  }

  /** Dispatches once and resolves the store write that records the outcome. */
  async function attempt(alarm: Alarm, stored: Message, late: boolean): Promise<() => Promise<void>> {
    const message = stored.with({
      assigns: { ...stored.assigns, dispatchAttempts: alarm.attempts + 1, dispatchAt: alarm.scheduledFor, late },
    });
    let resolved = message;
    let verdict: DeliveryVerdict;
    try {
      resolved = await dispatcher.dispatch(message, { timeoutMs: timeoutFor(message) });
      verdict = verdictFor(resolved);
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
    return verdict === "done" ? () => completed(alarm, message) : () => failed(alarm, resolved, verdict);
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

  async function failed(alarm: Alarm, resolved: Message, verdict: Exclude<DeliveryVerdict, "done">): Promise<void> {
    const attempts = alarm.attempts + 1;
    const retried: Alarm = { ...alarm, message: resetForRetry(resolved).toJSON(), attempts };
    if (attempts >= maxAttempts) {
      await moveToDeadLetters(retried, resolved.response ?? Response.error("no_response"));
      return;
    }
    const asked = typeof verdict === "object" ? verdict.retryInMs : Number.NaN;
    const delayMs =
      Number.isFinite(asked) && asked >= 0 ? asked : Math.min(maxDelayMs, initialDelayMs * factor ** (attempts - 1));
    const next: Alarm = { ...retried, dispatchAt: clock.now() + delayMs };
    // Persisted before it is armed: a stop now still leaves the retry in the store.
    await store.save(next);
    arm(next);
    telemetry.emit(
      "alarm_retry_scheduled",
      { dispatchAt: next.dispatchAt, delayMs, attempts },
      { id: alarm.id, response: resolved.response },
    );
  }

  async function moveToDeadLetters(alarm: Alarm, reason: Response): Promise<void> {
    const letter: DeadLetter = { alarm, reason, failedAt: clock.now() };
    await store.moveToDeadLetters(letter);
    telemetry.emit(
      "alarm_dead_lettered",
      { time: letter.failedAt, attempts: alarm.attempts },
      { id: alarm.id, reason },
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
    for (const cancel of armed.values()) cancel();
    armed.clear();
    loadedUntil = Number.NEGATIVE_INFINITY;
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
      // Parsed once here so that the store only ever holds messages that will parse at delivery.
      const data = Message.parse((options.saveAlarm?.(first, aggregateId) ?? first).toJSON()).toJSON();
      const alarm: Alarm = {
        id,
        message: data,
        dispatchAt,
        scheduledFor: dispatchAt,
        attempts: 0,
        ...(aggregateId === undefined ? {} : { aggregateId }),
        ...(everyMs === undefined ? {} : { everyMs }),
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
    cancel(id) {
      return serialized(id, async () => {
        takeOver(id);
        return store.delete(id);
      });
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
      while (deliveries.size > 0) await Promise.allSettled([...deliveries]);
    },
  };
  return scheduler;
}
