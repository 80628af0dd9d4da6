import type { ConnectionNamespace, Watcher } from "./rpc.ts";
import { type DurableSqlStorage, rows } from "./storage.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS x3m_watchers (
  connection TEXT NOT NULL,
  aggregate TEXT NOT NULL,
  PRIMARY KEY (connection, aggregate)
) WITHOUT ROWID;`;

/** The connection objects an aggregate object pokes when it commits. @internal */
export interface Watchers {
  watch(watcher: Watcher): void;
  /** Pokes every watcher about `id` at `version`, without delaying the caller; drops those that track it no more. */
  notify(id: string, version: number): void;
}

/**
 * Watchers of one aggregate object, kept in its SQLite storage (they outlive evictions) and cached in memory.
 * A poke carries no data: the client pulls the changes through the sync endpoint, under its authorization.
 */
export function createWatchers(
  storage: DurableSqlStorage,
  connections: ConnectionNamespace,
  waitUntil: (promise: Promise<unknown>) => void,
): Watchers {
  storage.sql.exec(SCHEMA);
  const known = new Map<string, Watcher>();
  for (const row of rows<Watcher>(storage, "SELECT connection, aggregate FROM x3m_watchers")) {
    known.set(`${row.connection}\u0000${row.aggregate}`, row);
  }
  return {
    watch(watcher) {
      const key = `${watcher.connection}\u0000${watcher.aggregate}`;
      if (known.has(key)) return;
      storage.sql.exec(
        "INSERT OR IGNORE INTO x3m_watchers (connection, aggregate) VALUES (?, ?)",
        watcher.connection,
        watcher.aggregate,
      );
      known.set(key, watcher);
    },
    notify(id, version) {
      for (const [key, watcher] of known) {
        const target = connections.get(connections.idFromName(watcher.connection) as never);
        waitUntil(
          target.poke(watcher.aggregate, id, version).then(
            (poked) => {
              if (poked > 0) return;
              known.delete(key);
              storage.sql.exec(
                "DELETE FROM x3m_watchers WHERE connection = ? AND aggregate = ?",
                watcher.connection,
                watcher.aggregate,
              );
            },
            () => {
              // A poke is a hint: the client's pull interval catches up if this one is lost.
            },
          ),
        );
      }
    },
  };
}
