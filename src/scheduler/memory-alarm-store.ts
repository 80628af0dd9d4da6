import type { Alarm, AlarmStore, DeadLetter } from "./alarm-store.ts";
import { createDueIndex, type Due, dueOrder } from "./due-index.ts";

/** A JSON round trip: the memory store keeps and hands out copies exactly as a persistent store would. */
function copy<TValue>(value: TValue): TValue {
  return JSON.parse(JSON.stringify(value)) as TValue;
}

function byTimeThenId(a: readonly [number, string], b: readonly [number, string]): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

/** An alarm as the store keeps it: its JSON, parsed only when handed out, and the keys it is ordered by. */
interface StoredAlarm extends Due {
  readonly json: string;
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
  const index = createDueIndex<StoredAlarm>({
    live: (entry) => alarms.get(entry.id) === entry,
    all: () => alarms.values(),
    size: () => alarms.size,
  });
  return {
    async save(alarm) {
      const entry = { id: alarm.id, dispatchAt: alarm.dispatchAt, json: JSON.stringify(alarm) };
      if (alarms.has(alarm.id)) index.removed();
      alarms.set(alarm.id, entry);
      index.add(entry);
    },
    async get(id) {
      const stored = alarms.get(id);
      return stored && parse(stored);
    },
    async delete(id) {
      if (!alarms.delete(id)) return false;
      index.removed();
      return true;
    },
    async loadDue(until, limit = Number.POSITIVE_INFINITY) {
      if (limit === Number.POSITIVE_INFINITY) {
        return [...alarms.values()]
          .filter((entry) => entry.dispatchAt < until)
          .sort(dueOrder)
          .map(parse);
      }
      return index.first(until, limit).map(parse);
    },
    async count() {
      return alarms.size;
    },
    async moveToDeadLetters(letter) {
      if (alarms.delete(letter.alarm.id)) index.removed();
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
