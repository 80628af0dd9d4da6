import { type IDBPTransaction, unwrap } from "idb";
import { X3M_STORES, type X3mDatabase } from "./schema.ts";

/**
 * Creates the x3m object stores and indexes that do not exist yet: call it from an `openDB` upgrade
 * callback, so an app keeps its read models in the same database (and can write them in one transaction
 * with the checkpoint). Safe to call on every upgrade. Pass the upgrade transaction (idb's fourth
 * argument) when the database already had x3m stores from an older release: indexes added since then
 * can only be created on existing stores through it.
 *
 * @example
 * import { openDB } from "idb";
 * import { createX3mStores, openIndexedDbEventStore } from "x3m-system/indexeddb";
 * const db = await openDB("app", 2, {
 *   upgrade(db, _oldVersion, _newVersion, transaction) {
 *     createX3mStores(db, transaction);
 *     if (!db.objectStoreNames.contains("balances")) db.createObjectStore("balances", { keyPath: "account" });
 *   },
 * });
 * const store = await openIndexedDbEventStore({ db });
 */
export function createX3mStores(
  db: X3mDatabase,
  // biome-ignore lint/suspicious/noExplicitAny: the upgrade transaction of any app schema.
  transaction?: IDBPTransaction<any, any, "versionchange">,
): void {
  const raw = unwrap(db) as IDBDatabase;
  const upgrade = transaction && (unwrap(transaction) as IDBTransaction);
  /** The store `name`, created when missing; `undefined` when it exists and no upgrade transaction was given. */
  const storeOf = (name: string, options?: IDBObjectStoreParameters): IDBObjectStore | undefined =>
    raw.objectStoreNames.contains(name) ? upgrade?.objectStore(name) : raw.createObjectStore(name, options);
  const index = (store: IDBObjectStore | undefined, name: string, keyPath: string | string[], unique = false) => {
    if (store && !store.indexNames.contains(name)) store.createIndex(name, keyPath, { unique });
  };

  const events = storeOf(X3M_STORES.events, { keyPath: "position" });
  // Unique: two events can never claim the same version of a stream.
  index(events, "by_stream", ["stream", "epoch", "version"], true);
  // The answer of a command that appended events is found through them.
  index(events, "by_message", ["stream", "metadata.messageId"]);
  storeOf(X3M_STORES.streams, { keyPath: "stream" });
  storeOf(X3M_STORES.snapshots, { keyPath: ["stream", "schemaVersion"] });
  storeOf(X3M_STORES.checkpoints, { keyPath: "name" });
  const outbox = storeOf(X3M_STORES.outbox, { keyPath: "seq", autoIncrement: true });
  index(outbox, "by_status", "status");
  index(outbox, "by_stream", "stream");
  index(outbox, "by_message", "messageId");
  // Only rows with a local failure have this key: the index counts conflicts without reading the queue.
  index(outbox, "by_failure", "localFailure.status");
  storeOf(X3M_STORES.sync, { keyPath: "key" });
  storeOf(X3M_STORES.answers, { keyPath: ["stream", "messageId"] });
  storeOf(X3M_STORES.clients, { keyPath: ["stream", "clientId"] });
}
