import { type CheckpointApply, type CheckpointStore, checkpointConflict } from "../../src/index.ts";
import { type DurableSqlStorage, firstRow } from "./storage.ts";

/** The storage a SQL checkpoint store needs: SQL, and transactions that may span an `await`. */
export interface DurableTransactionalStorage extends DurableSqlStorage {
  /** Runs `closure` as one transaction, also across awaits: all of its writes or none. */
  transaction<TResult>(closure: () => Promise<TResult>): Promise<TResult>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS x3m_checkpoints (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL
) WITHOUT ROWID;`;

/**
 * A checkpoint store in a Durable Object's SQLite storage: a projector's read-model write (`apply`, given
 * the object's `sql` as `tx`) and its checkpoint move commit in one transaction, so a crash can neither
 * lose an event nor apply one twice. Several checkpoints reset together in one transaction too
 * (`resetMany`, for `defineShardedProjector`). A synchronous `handle` is best: an `apply` that awaits
 * other I/O holds the store's lane (commits run one at a time) and its transaction open meanwhile.
 *
 * @example
 * import { createSqlCheckpointStore } from "x3m-system/durable-objects";
 * const checkpoints = createSqlCheckpointStore(ctx.storage);
 * defineProjector({ name: "balances", source, checkpoints, handle: (event, sql) => sql.exec("INSERT …") });
 */
export function createSqlCheckpointStore<TStorage extends DurableTransactionalStorage>(
  storage: TStorage,
): CheckpointStore<TStorage["sql"]> & Required<Pick<CheckpointStore<TStorage["sql"]>, "resetMany">> {
  storage.sql.exec(SCHEMA);
  let tail: Promise<unknown> = Promise.resolve();
  // One operation at a time, in call order: the compare and the set of one commit never interleave with another's.
  const lane = <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(() => storage.transaction(work));
    tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };
  const position = (name: string) =>
    firstRow<{ position: number }>(storage, "SELECT position FROM x3m_checkpoints WHERE name = ?", name)?.position ?? 0;
  const resetAll = async (names: readonly string[], apply?: CheckpointApply<TStorage["sql"]>) => {
    await apply?.(storage.sql);
    for (const name of names) storage.sql.exec("DELETE FROM x3m_checkpoints WHERE name = ?", name);
  };

  return {
    load: (name) => lane(async () => position(name)),
    commit: (name, move, apply) =>
      lane(async () => {
        const refused = checkpointConflict(move, position(name));
        if (refused) return refused;
        await apply(storage.sql);
        storage.sql.exec(
          "INSERT INTO x3m_checkpoints (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position",
          name,
          move.next,
        );
        return { ok: true } as const;
      }),
    reset: (name, apply) => lane(() => resetAll([name], apply)),
    resetMany: (names, apply) => lane(() => resetAll(names, apply)),
  };
}
