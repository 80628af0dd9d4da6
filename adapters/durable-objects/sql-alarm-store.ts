import type { Alarm, AlarmStore, DeadLetter } from "../../src/index.ts";
import { type DurableSqlStorage, firstRow, rows } from "./storage.ts";

// One row per alarm (never one JSON blob for all: other schedulers hit the 128 KiB value limit and the
// rewrite-everything cost), indexed by due time so a window load is a range scan.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS x3m_alarms (
  id TEXT PRIMARY KEY,
  dispatch_at INTEGER NOT NULL,
  alarm TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS x3m_alarms_due ON x3m_alarms (dispatch_at, id);
CREATE TABLE IF NOT EXISTS x3m_dead_letters (
  id TEXT PRIMARY KEY,
  failed_at INTEGER NOT NULL,
  letter TEXT NOT NULL
);`;

/**
 * The scheduler's `AlarmStore` in a Durable Object's SQLite storage; the dead-letter move is one transaction.
 *
 * @example
 * import { createSqlAlarmStore } from "x3m-system/durable-objects";
 * const scheduler = createScheduler({ dispatcher: node, store: createSqlAlarmStore(ctx.storage), clock });
 */
export function createSqlAlarmStore(storage: DurableSqlStorage): AlarmStore {
  storage.sql.exec(SCHEMA);
  const changed = (query: string, ...bindings: unknown[]) =>
    (firstRow<{ n: number }>(storage, `${query} RETURNING 1 AS n`, ...bindings)?.n ?? 0) > 0;
  return {
    async save(alarm) {
      storage.sql.exec(
        "INSERT INTO x3m_alarms (id, dispatch_at, alarm) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET dispatch_at = excluded.dispatch_at, alarm = excluded.alarm",
        alarm.id,
        alarm.dispatchAt,
        JSON.stringify(alarm),
      );
    },
    async get(id) {
      const row = firstRow<{ alarm: string }>(storage, "SELECT alarm FROM x3m_alarms WHERE id = ?", id);
      return row && (JSON.parse(row.alarm) as Alarm);
    },
    async delete(id) {
      return changed("DELETE FROM x3m_alarms WHERE id = ?", id);
    },
    async loadDue(until, limit) {
      // A range scan of the (dispatch_at, id) index that stops after `limit` rows (-1: no limit in SQLite).
      return rows<{ alarm: string }>(
        storage,
        "SELECT alarm FROM x3m_alarms WHERE dispatch_at < ? ORDER BY dispatch_at, id LIMIT ?",
        until,
        limit === undefined || limit === Number.POSITIVE_INFINITY ? -1 : Math.max(0, Math.floor(limit)),
      ).map((row) => JSON.parse(row.alarm) as Alarm);
    },
    async count() {
      return firstRow<{ n: number }>(storage, "SELECT COUNT(*) AS n FROM x3m_alarms")?.n ?? 0;
    },
    async moveToDeadLetters(letter) {
      storage.transactionSync(() => {
        storage.sql.exec("DELETE FROM x3m_alarms WHERE id = ?", letter.alarm.id);
        storage.sql.exec(
          "INSERT INTO x3m_dead_letters (id, failed_at, letter) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET failed_at = excluded.failed_at, letter = excluded.letter",
          letter.alarm.id,
          letter.failedAt,
          JSON.stringify(letter),
        );
      });
    },
    async listDeadLetters() {
      return rows<{ letter: string }>(storage, "SELECT letter FROM x3m_dead_letters ORDER BY failed_at, id").map(
        (row) => JSON.parse(row.letter) as DeadLetter,
      );
    },
    async deleteDeadLetter(id) {
      return changed("DELETE FROM x3m_dead_letters WHERE id = ?", id);
    },
  };
}
