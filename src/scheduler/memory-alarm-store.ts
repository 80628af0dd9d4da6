import type { Alarm, AlarmStore, DeadLetter } from "./alarm-store.ts";
import { smallest } from "./smallest.ts";

/** A JSON round trip: the memory store keeps and hands out copies exactly as a persistent store would. */
function copy<TValue>(value: TValue): TValue {
  return JSON.parse(JSON.stringify(value)) as TValue;
}

function byTimeThenId(a: readonly [number, string], b: readonly [number, string]): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

/** An alarm as the store keeps it: its JSON, parsed only when handed out, and the keys it is ordered by. */
interface StoredAlarm {
  readonly id: string;
  readonly dispatchAt: number;
  readonly json: string;
}

function storedOrder(a: StoredAlarm, b: StoredAlarm): number {
  if (a.dispatchAt !== b.dispatchAt) return a.dispatchAt - b.dispatchAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function dueBefore(alarms: Iterable<StoredAlarm>, until: number): StoredAlarm[] {
  const due: StoredAlarm[] = [];
  for (const alarm of alarms) if (alarm.dispatchAt < until) due.push(alarm);
  return due;
}

const parse = (stored: StoredAlarm) => JSON.parse(stored.json) as Alarm;

/**
 * An `AlarmStore` in memory: for tests, and for a single process that may lose its alarms when it stops.
 *
 * @example
 * import { createMemoryAlarmStore, createScheduler } from "x3m-system";
 * const scheduler = createScheduler({ dispatcher: node, store: createMemoryAlarmStore() });
 */
export function createMemoryAlarmStore(): AlarmStore {
  const alarms = new Map<string, StoredAlarm>();
  const deadLetters = new Map<string, DeadLetter>();
  return {
    async save(alarm) {
      alarms.set(alarm.id, { id: alarm.id, dispatchAt: alarm.dispatchAt, json: JSON.stringify(alarm) });
    },
    async get(id) {
      const stored = alarms.get(id);
      return stored && parse(stored);
    },
    async delete(id) {
      return alarms.delete(id);
    },
    async loadDue(until, limit = Number.POSITIVE_INFINITY) {
      const due = dueBefore(alarms.values(), until);
      const page = limit >= due.length ? due.sort(storedOrder) : smallest(due, limit, storedOrder);
      return page.map(parse);
    },
    async count() {
      return alarms.size;
    },
    async moveToDeadLetters(letter) {
      alarms.delete(letter.alarm.id);
      deadLetters.set(letter.alarm.id, copy(letter));
    },
    async listDeadLetters() {
      const letters = [...deadLetters.values()];
      return copy(letters.sort((a, b) => byTimeThenId([a.failedAt, a.alarm.id], [b.failedAt, b.alarm.id])));
    },
    async deleteDeadLetter(id) {
      return deadLetters.delete(id);
    },
  };
}
