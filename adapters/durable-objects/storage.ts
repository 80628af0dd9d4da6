/** The slice of a Durable Object's storage this adapter uses (SQLite-backed objects). */
export interface DurableSqlStorage {
  readonly sql: {
    exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
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
