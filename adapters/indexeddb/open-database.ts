import { type IDBPDatabase, wrap } from "idb";
import { SdkClientError, SdkErrorCode } from "../../src/index.ts";
import { X3M_SCHEMA_VERSION, X3M_STORES, type X3mDatabase, type X3mSchema } from "./schema.ts";
import { storageError } from "./storage-error.ts";
import { createX3mStores } from "./upgrade.ts";

/** How `openX3mDatabase` tells its owner that the connection is gone. @internal */
export interface ConnectionEvents {
  /** Another connection wants a newer version: the connection is already closed when this runs. */
  readonly onVersionChange: (event: IDBVersionChangeEvent) => void;
  /** The browser closed the connection (storage cleared, disk error). */
  readonly onTerminated: () => void;
}

/**
 * Opens the store's own database (version `X3M_SCHEMA_VERSION`, x3m stores only) through any `IDBFactory`: idb's `openDB`
 * only knows the global one, and tests pass an isolated fake per case.
 *
 * @internal
 */
export async function openX3mDatabase(
  factory: IDBFactory | undefined,
  name: string,
  events: ConnectionEvents,
): Promise<IDBPDatabase<X3mSchema>> {
  if (!factory) {
    throw new SdkClientError(
      SdkErrorCode.INVALID_OPTIONS,
      "IndexedDB is not available here: pass `indexedDB` (e.g. fake-indexeddb's IDBFactory in Node)",
    );
  }
  let db: IDBPDatabase<X3mSchema>;
  try {
    const request = factory.open(name, X3M_SCHEMA_VERSION);
    request.addEventListener("upgradeneeded", () =>
      createX3mStores(wrap(request.result), wrap(request.transaction as IDBTransaction) as never),
    );
    db = (await wrap(request)) as unknown as IDBPDatabase<X3mSchema>;
  } catch (error) {
    throw storageError(error, "open");
  }
  // Closing at once lets the other tab's upgrade (or deleteDB) go ahead instead of hanging.
  db.addEventListener("versionchange", (event) => {
    db.close();
    events.onVersionChange(event);
  });
  db.addEventListener("close", () => events.onTerminated());
  return db;
}

/** Checks that an app's database holds the event store's stores. @internal */
export function requireEventStores(db: X3mDatabase): IDBPDatabase<X3mSchema> {
  for (const store of [
    X3M_STORES.events,
    X3M_STORES.streams,
    X3M_STORES.snapshots,
    X3M_STORES.answers,
    X3M_STORES.clients,
  ]) {
    if (!db.objectStoreNames.contains(store)) {
      throw new SdkClientError(
        SdkErrorCode.INVALID_OPTIONS,
        `database "${db.name}" has no ${store} store: call createX3mStores(db, transaction) in an upgrade callback (bump the database's version)`,
      );
    }
  }
  return db as IDBPDatabase<X3mSchema>;
}
