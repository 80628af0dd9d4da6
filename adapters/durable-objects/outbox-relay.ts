import type { Clock, RecordedEvent } from "../../src/index.ts";
import { type DurableSqlStorage, type EventRow, rows, toRecorded } from "./storage.ts";

/** Where relayed events go: usually the stream object of the aggregate type. Must be idempotent. */
export interface OutboxTarget {
  /** Takes a batch of committed events, in order; resolves once they are durable there (a rejection retries it). */
  ingest(events: RecordedEvent[]): Promise<unknown>;
}

/** What `createOutboxRelay` returns: the object kicks it after commits and flushes it on its alarm. */
export interface OutboxRelay {
  /** Relays soon when the outbox holds anything: on the object's alarm clock, so an eviction cannot lose the relay. */
  kick(): void;
  /** Relays everything pending now; resolves when the outbox is empty or a send failed (then it retries later). */
  flush(): Promise<void>;
}

const BATCH = 100;

/**
 * Relays the events an object committed, at least once and in order: the outbox rows were written in the
 * same SQLite transaction as the events (`createSqlEventStore(storage, { outbox: true })`), a batch is sent,
 * and only an acknowledged batch is deleted. A failed send is retried with backoff on the given clock
 * (the object's alarm clock: the retry survives an eviction because the rows are still there and
 * `kick()` runs again when the object starts).
 *
 * @example
 * const relay = createOutboxRelay({ storage: ctx.storage, clock: alarmClock.lane("outbox"), target: env.ACCOUNT_EVENTS.get(id) });
 */
export function createOutboxRelay(options: {
  storage: DurableSqlStorage;
  clock: Clock;
  target: OutboxTarget;
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
}): OutboxRelay {
  const { storage, clock, target } = options;
  const initialDelayMs = options.retry?.initialDelayMs ?? 100;
  const maxDelayMs = options.retry?.maxDelayMs ?? 60_000;
  let running: Promise<void> | undefined;
  let failures = 0;
  let cancelTimer: (() => void) | undefined;

  const pending = () =>
    rows<EventRow>(
      storage,
      `SELECT e.position, e.stream, e.version, e.type, e.data, e.metadata, e.recorded_at
       FROM x3m_outbox o JOIN x3m_events e ON e.position = o.position ORDER BY o.position LIMIT ?`,
      BATCH,
    );

  const relayAll = async () => {
    for (let batch = pending(); batch.length > 0; batch = pending()) {
      const events: RecordedEvent[] = batch.map(toRecorded);
      await target.ingest(events);
      const last = batch.at(-1)?.position ?? 0;
      storage.sql.exec("DELETE FROM x3m_outbox WHERE position <= ?", last);
      failures = 0;
    }
  };

  const schedule = (delayMs: number) => {
    if (cancelTimer) return;
    cancelTimer = clock.setTimeout(() => {
      cancelTimer = undefined;
      void relay.flush();
    }, delayMs);
  };

  const relay: OutboxRelay = {
    // Only with something pending: a kick after every command would otherwise arm the alarm (a storage
    // write and a wake-up) even for commands that appended nothing.
    kick: () => {
      if (rows(storage, "SELECT 1 FROM x3m_outbox LIMIT 1").length > 0) schedule(0);
    },
    flush() {
      running ??= relayAll()
        .catch(() => {
          failures++;
          schedule(Math.min(maxDelayMs, initialDelayMs * 2 ** (failures - 1)));
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
  };
  return relay;
}
