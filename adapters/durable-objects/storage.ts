import type { RecordedEvent } from "../../src/index.ts";

/** The slice of a Durable Object's storage this adapter uses (SQLite-backed objects). */
export interface DurableSqlStorage {
  readonly sql: {
    /** Runs one statement with its bound values. */
    exec(
      query: string,
      ...bindings: unknown[]
    ): {
      /** The rows it answered. */
      toArray(): Record<string, unknown>[];
    };
  };
  /** Runs `closure` as one SQLite transaction: all of its writes or none. */
  transactionSync<TResult>(closure: () => TResult): TResult;
}

/** Runs `query` and returns its rows. */
export function rows<TRow>(storage: DurableSqlStorage, query: string, ...bindings: unknown[]): TRow[] {
  return storage.sql.exec(query, ...bindings).toArray() as TRow[];
}

/** Runs `query` and returns its first row, if any. */
export function firstRow<TRow>(storage: DurableSqlStorage, query: string, ...bindings: unknown[]): TRow | undefined {
  return rows<TRow>(storage, query, ...bindings)[0];
}

/** An event as the SQLite tables of this adapter hold it (events table and stream log alike). */
export interface EventRow {
  position: number;
  stream: string;
  version: number;
  type: string;
  data: string;
  metadata: string;
  recorded_at: number;
}

/** The contract's `RecordedEvent` for a stored row. */
export function toRecorded(row: EventRow): RecordedEvent {
  return {
    stream: row.stream,
    version: row.version,
    position: row.position,
    type: row.type,
    data: JSON.parse(row.data),
    metadata: JSON.parse(row.metadata),
    recordedAt: row.recorded_at,
  };
}
