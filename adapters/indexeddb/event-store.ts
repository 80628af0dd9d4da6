import { type IDBPDatabase, unwrap } from "idb";
import {
  type AppendOptions,
  type AppendResult,
  type Clock,
  type EventStore,
  type RecordedEvent,
  type Snapshot,
  satisfiesExpectedVersion,
  systemClock,
  wrongExpectedVersion,
} from "../../src/index.ts";
import {
  ANSWER_STORE_NAMES,
  clientSequenceInTransaction,
  findAnswerInTransaction,
  recordAnswerInTransaction,
} from "./answers-transaction.ts";
import {
  appendRecords,
  countOf,
  lastPositionInTransaction,
  type NewEvent,
  readStreamInTransaction,
  streamVersionInTransaction,
  toRecorded,
} from "./event-store-transaction.ts";
import { openX3mDatabase, requireEventStores } from "./open-database.ts";
import {
  EVENT_STORE_NAMES,
  type EventRow,
  type SnapshotRow,
  type StreamRow,
  X3M_STORES,
  type X3mDatabase,
  type X3mSchema,
  type X3mTransaction,
} from "./schema.ts";
import { closedError, commitAfter, ending, storageError } from "./storage-error.ts";

const DEFAULT_LIMIT = 1_000;
const DEFAULT_NAME = "x3m-system";

/**
 * An `EventStore` in IndexedDB, with its connection and same-transaction appends.
 *
 * @example
 * import { EVENT_STORE_NAMES, type IndexedDbEventStore } from "x3m-system/indexeddb";
 * const confirm = async (store: IndexedDbEventStore, events: NewEvent[]) => {
 *   const tx = store.db.transaction([...EVENT_STORE_NAMES, "x3m_sync"], "readwrite");
 *   const result = await store.appendInTransaction(tx, "account-1", events);
 *   await tx.objectStore("x3m_sync").put({ key: "cursor", position: 42 });
 *   await tx.done; // subscribers hear the events now
 *   return result;
 * };
 */
export interface IndexedDbEventStore extends EventStore {
  /** The connection (the store's own, or the app's `db`): open transactions on it for the `…InTransaction` helpers. */
  readonly db: IDBPDatabase<X3mSchema>;
  /** Hears this store's committed appends (not other tabs': ring a doorbell for those: IndexedDB has no change events). */
  subscribe(listener: (events: readonly RecordedEvent[]) => void): () => void;
  /** `appendInTransaction` with this store's clock; subscribers hear the events once `tx` commits. */
  appendInTransaction(
    tx: X3mTransaction,
    stream: string,
    events: readonly NewEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult>;
  /** Stops the store: later calls reject (`closed`). Closes the connection only if the store opened it. */
  close(): void;
}

interface CommonOptions {
  /** Stamps `recordedAt`. @default systemClock */
  readonly clock?: Clock;
}

/**
 * The store opens and owns its database (version `X3M_SCHEMA_VERSION`, x3m stores only).
 *
 * @example
 * const store = await openIndexedDbEventStore({ name: "bank", onVersionChange: () => location.reload() });
 */
export interface OwnDatabaseOptions extends CommonOptions {
  /** @default "x3m-system" */
  readonly name?: string;
  /** @default globalThis.indexedDB */
  readonly indexedDB?: IDBFactory;
  /**
   * Another tab opened a newer version: the store has closed its connection (so that upgrade is not
   * blocked) and every later call rejects; tell the user to reload. @default nothing
   */
  readonly onVersionChange?: (event: IDBVersionChangeEvent) => void;
  /** The browser closed the connection (storage cleared, disk failure): every later call rejects; reopen. */
  readonly onTerminated?: () => void;
  readonly db?: undefined;
}

/**
 * The store uses an app's database, created with `createX3mStores`; the app handles `versionchange`
 * (idb's `blocking` callback) and `close()` leaves the connection open.
 *
 * @example
 * const db = await openDB("bank", 3, { upgrade: (db) => createX3mStores(db), blocking: () => db.close() });
 * const store = await openIndexedDbEventStore({ db });
 */
export interface SharedDatabaseOptions extends CommonOptions {
  readonly db: X3mDatabase;
  readonly name?: never;
  readonly indexedDB?: never;
  readonly onVersionChange?: never;
  readonly onTerminated?: never;
}

/**
 * `openIndexedDbEventStore`'s options: its own database, or an app's.
 *
 * @example
 * const options: IndexedDbEventStoreOptions = { indexedDB: new IDBFactory(), clock: new VirtualClock() }; // Node tests
 */
export type IndexedDbEventStoreOptions = OwnDatabaseOptions | SharedDatabaseOptions;

/**
 * Opens an event store in IndexedDB: the event-store contract of the memory store, with every append
 * checked and written in one transaction (events, the stream's version and the global position
 * together). Failures reject with an `SdkClientError` and leave nothing half-written.
 *
 * @example
 * import { openIndexedDbEventStore } from "x3m-system/indexeddb";
 * const store = await openIndexedDbEventStore({ onVersionChange: () => showReloadBanner() });
 * await store.append("account-1", [{ type: "Opened" }], { expectedVersion: "no_stream" });
 */
export async function openIndexedDbEventStore(options: IndexedDbEventStoreOptions = {}): Promise<IndexedDbEventStore> {
  const clock = options.clock ?? systemClock;
  const owned = options.db === undefined;
  let closed = false;
  const db = options.db
    ? requireEventStores(options.db)
    : await openX3mDatabase(options.indexedDB ?? globalThis.indexedDB, options.name ?? DEFAULT_NAME, {
        onVersionChange: (event) => {
          closed = true;
          options.onVersionChange?.(event);
        },
        onTerminated: () => {
          closed = true;
          options.onTerminated?.();
        },
      });
  const listeners = new Set<(events: readonly RecordedEvent[]) => void>();

  const begin = (
    operation: string,
    stores: readonly string[],
    mode: IDBTransactionMode,
  ): X3mTransaction<typeof mode> => {
    if (closed) throw closedError(operation);
    try {
      const tx = (db as X3mDatabase).transaction(stores as string[], mode);
      // A transaction the browser aborts must not become an unhandled rejection; writers await `done` themselves.
      tx.done.catch(() => {});
      return tx;
    } catch (error) {
      throw storageError(error, operation);
    }
  };

  const read = async <T>(
    operation: string,
    stores: readonly string[],
    body: (tx: X3mTransaction<"readonly">) => Promise<T>,
  ) => {
    const tx = begin(operation, stores, "readonly") as X3mTransaction<"readonly">;
    try {
      return await body(tx);
    } catch (error) {
      throw storageError(error, operation, tx);
    }
  };

  // `body` must await only the transaction's own requests (anything else lets the transaction end under it); the commit is explicit, once every request succeeded.
  const write = async <T>(operation: string, stores: readonly string[], body: (tx: X3mTransaction) => Promise<T>) => {
    const tx = begin(operation, stores, "readwrite") as X3mTransaction;
    try {
      return await commitAfter(tx, ending(tx), () => body(tx));
    } catch (error) {
      throw storageError(error, operation, tx);
    }
  };

  const publish = (events: readonly RecordedEvent[]) => {
    if (events.length === 0) return;
    for (const listener of [...listeners]) {
      try {
        listener(events);
      } catch {
        // A subscriber is only a hint (see EventSource.subscribe): its failure never fails the append.
      }
    }
  };

  return {
    db,
    async has(stream) {
      return (await read("has", [X3M_STORES.streams], (tx) => streamVersionInTransaction(tx, stream))) >= 0;
    },
    version(stream) {
      return read("version", [X3M_STORES.streams], (tx) => streamVersionInTransaction(tx, stream));
    },
    read(stream, { from = 0, limit = DEFAULT_LIMIT } = {}) {
      return read("read", EVENT_STORE_NAMES, (tx) => readStreamInTransaction(tx, stream, { from, limit }));
    },
    readAll({ after = 0, limit = DEFAULT_LIMIT } = {}) {
      return read("readAll", [X3M_STORES.events], async (tx) => {
        const count = countOf(limit);
        if (count === 0) return [];
        const rows = (await tx
          .objectStore(X3M_STORES.events)
          .getAll(IDBKeyRange.lowerBound(after, true), count)) as EventRow[];
        return rows.map(toRecorded);
      });
    },
    lastPosition() {
      return read("lastPosition", [X3M_STORES.events], lastPositionInTransaction);
    },
    async append(stream, events, options = {}) {
      const stores = options.answer
        ? [...EVENT_STORE_NAMES, X3M_STORES.answers, X3M_STORES.clients]
        : EVENT_STORE_NAMES;
      const outcome = await write("append", stores, (tx) =>
        appendRecords(
          tx,
          stream,
          events.map((data) => ({ data })),
          options,
          clock,
        ),
      );
      publish(outcome.recorded);
      return outcome.result;
    },
    async appendInTransaction(tx, stream, events, options = {}) {
      if (closed) throw closedError("append");
      const { result, recorded } = await appendRecords(tx, stream, events, options, clock);
      if (recorded.length > 0)
        tx.done.then(
          () => publish(recorded),
          () => {},
        );
      return result;
    },
    deleteStream(stream, { expectedVersion = "any" } = {}) {
      return write("deleteStream", [...EVENT_STORE_NAMES, X3M_STORES.snapshots], async (tx): Promise<AppendResult> => {
        const streams = tx.objectStore(X3M_STORES.streams);
        const [row, last] = await Promise.all([
          streams.get(stream) as Promise<StreamRow | undefined>,
          lastPositionInTransaction(tx),
        ]);
        const actual = row?.version ?? -1;
        if (!satisfiesExpectedVersion(expectedVersion, actual))
          return wrongExpectedVersion(stream, expectedVersion, actual);
        // A new epoch: the name starts again from version 0 while the old events stay in the global log.
        if (row && row.version >= 0)
          unwrap(streams).put({ stream, version: -1, epoch: row.epoch + 1 } satisfies StreamRow);
        unwrap(tx.objectStore(X3M_STORES.snapshots)).delete(IDBKeyRange.bound([stream, -Infinity], [stream, Infinity]));
        return { ok: true, version: -1, firstPosition: last, lastPosition: last };
      });
    },
    saveSnapshot(stream, snapshot: Snapshot) {
      return write("saveSnapshot", [X3M_STORES.snapshots], async (tx) => {
        // Copied at call time, like events (this runs before the first await).
        const { version, schemaVersion, state } = structuredClone(snapshot);
        const snapshots = tx.objectStore(X3M_STORES.snapshots);
        const existing = (await snapshots.get([stream, schemaVersion])) as SnapshotRow | undefined;
        // Only the latest snapshot of each schema version is ever read, so an older one never replaces it.
        if (!existing || existing.version <= version) {
          unwrap(snapshots).put({ stream, schemaVersion, version, state } satisfies SnapshotRow);
        }
      });
    },
    loadSnapshot(stream, { schemaVersion }) {
      return read("loadSnapshot", [X3M_STORES.snapshots], async (tx) => {
        const row = (await tx.objectStore(X3M_STORES.snapshots).get([stream, schemaVersion])) as
          | SnapshotRow
          | undefined;
        return row && { version: row.version, schemaVersion, state: row.state };
      });
    },
    recordAnswer(stream, answer) {
      return write("recordAnswer", ANSWER_STORE_NAMES, (tx) => recordAnswerInTransaction(tx, stream, answer));
    },
    findAnswer(stream, messageId) {
      return read("findAnswer", ANSWER_STORE_NAMES, (tx) => findAnswerInTransaction(tx, stream, messageId));
    },
    clientSequence(stream, clientId) {
      return read("clientSequence", [X3M_STORES.clients], (tx) => clientSequenceInTransaction(tx, stream, clientId));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    close() {
      closed = true;
      if (owned) db.close();
    },
  };
}
