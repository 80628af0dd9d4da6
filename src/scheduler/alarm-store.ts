import type { MessageData } from "../message.ts";
import type { Response } from "../response.ts";

/**
 * One scheduled delivery, as persisted. Plain JSON: a store may serialize it as it likes, and must give
 * back a deep-equal record.
 *
 * @example
 * const alarm: Alarm = { id: msg.id, message: msg.toJSON(), dispatchAt: at, scheduledFor: at, attempts: 0 };
 */
export interface Alarm {
  /** The id the message was scheduled with; the key of the store (saving it again replaces the alarm). */
  readonly id: string;
  /** The message to dispatch (`Message.toJSON()`). A repeating alarm's carries the current occurrence's id. */
  readonly message: MessageData;
  /** When to dispatch next, epoch ms: the occurrence's time, or a retry's time after a failed attempt. */
  readonly dispatchAt: number;
  /** The time the current occurrence was scheduled for, epoch ms; a retry moves `dispatchAt`, never this. */
  readonly scheduledFor: number;
  /** Dispatches of the current occurrence done so far (0 until the first one). */
  readonly attempts: number;
  /** Passed through from `schedule()`, for the application's own indexing. */
  readonly aggregateId?: string;
  /** Repeat period in ms; absent for a one-off alarm. */
  readonly everyMs?: number;
  /**
   * The pinned assigns (`principal` by default) as `schedule()` found them on the message: applied again
   * at every dispatch, a key missing here is removed. Absent only in alarms stored by older versions.
   */
  readonly pinned?: Readonly<Record<string, unknown>>;
}

/**
 * An alarm whose delivery failed `maxAttempts` times, with the last attempt's response.
 *
 * @example
 * for (const letter of await scheduler.deadLetters()) console.log(letter.alarm.id, letter.reason.status);
 */
export interface DeadLetter {
  readonly alarm: Alarm;
  /** The last attempt's response (a throwing dispatch is recorded as an `error` response). */
  readonly reason: Response;
  /** Epoch ms. */
  readonly failedAt: number;
}

/**
 * Where the scheduler persists its alarms and dead letters. The memory store is the reference; the
 * Durable Objects (SQLite) and IndexedDB stores implement the same contract (`alarmStoreContract`).
 * The store never reads the time: every timestamp comes from the scheduler's Clock.
 *
 * @example
 * const store: AlarmStore = createMemoryAlarmStore();
 * await store.save(alarm);
 * const due = await store.loadDue(clock.now() + 60_000);
 */
export interface AlarmStore {
  /** Inserts or replaces the alarm with `alarm.id`. */
  save(alarm: Alarm): Promise<void>;
  /** The alarm with `id`, or `undefined` (dead letters are not alarms). */
  get(id: string): Promise<Alarm | undefined>;
  /** Removes the alarm; resolves whether there was one. */
  delete(id: string): Promise<boolean>;
  /**
   * The alarms with `dispatchAt < until`, overdue ones included, ordered by `dispatchAt` then `id`
   * (code-unit order): the first `limit` of them, or all without a limit. No lower bound on purpose: a
   * load can never skip an alarm that an earlier load missed (a crash, a failed load, a retry saved
   * meanwhile). The scheduler pages with `limit`, so a backlog never has to fit in memory.
   */
  loadDue(until: number, limit?: number): Promise<Alarm[]>;
  /** Number of alarms (dead letters not included). */
  count(): Promise<number>;
  /** Atomically removes `letter.alarm.id` from the alarms and stores the dead letter (replacing one with that id). */
  moveToDeadLetters(letter: DeadLetter): Promise<void>;
  /** Every dead letter, ordered by `failedAt` then alarm id. */
  listDeadLetters(): Promise<DeadLetter[]>;
  /** Removes the dead letter of alarm `id`; resolves whether there was one. */
  deleteDeadLetter(id: string): Promise<boolean>;
}
