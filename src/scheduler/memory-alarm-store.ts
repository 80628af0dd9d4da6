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

const alarmOrder = (a: Alarm, b: Alarm) => byTimeThenId([a.dispatchAt, a.id], [b.dispatchAt, b.id]);

function* dueBefore(alarms: Iterable<Alarm>, until: number): Generator<Alarm> {
  for (const alarm of alarms) if (alarm.dispatchAt < until) yield alarm;
}

/**
 * An `AlarmStore` in memory: for tests, and for a single process that may lose its alarms when it stops.
 *
 * @example
 * import { createMemoryAlarmStore, createScheduler } from "x3m-system";
 * const scheduler = createScheduler({ dispatcher: node, store: createMemoryAlarmStore() });
 */
export function createMemoryAlarmStore(): AlarmStore {
  const alarms = new Map<string, Alarm>();
  const deadLetters = new Map<string, DeadLetter>();
  return {
    async save(alarm) {
      alarms.set(alarm.id, copy(alarm));
    },
    async get(id) {
      const alarm = alarms.get(id);
      return alarm && copy(alarm);
    },
    async delete(id) {
      return alarms.delete(id);
    },
    async loadDue(until, limit = Number.POSITIVE_INFINITY) {
      const due = dueBefore(alarms.values(), until);
      return copy(limit === Number.POSITIVE_INFINITY ? [...due].sort(alarmOrder) : smallest(due, limit, alarmOrder));
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
