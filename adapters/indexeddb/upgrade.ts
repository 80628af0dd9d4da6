import { X3M_STORES, type X3mDatabase } from "./schema.ts";

/**
 * Creates the x3m object stores that do not exist yet: call it from an `openDB` upgrade callback, so an
 * app keeps its read models in the same database (and can write them in one transaction with the
 * checkpoint). Safe to call on every upgrade.
 *
 * @example
 * import { openDB } from "idb";
 * import { createX3mStores, openIndexedDbEventStore } from "x3m-system/indexeddb";
 * const db = await openDB("app", 1, {
 *   upgrade(db) {
 *     createX3mStores(db);
 *     db.createObjectStore("balances", { keyPath: "account" });
 *   },
 * });
 * const store = await openIndexedDbEventStore({ db });
 */
export function createX3mStores(db: X3mDatabase): void {
  const missing = (name: string) => !db.objectStoreNames.contains(name);
  if (missing(X3M_STORES.events)) {
    const events = db.createObjectStore(X3M_STORES.events, { keyPath: "position" });
    // Unique: two events can never claim the same version of a stream (field notes H4).
    events.createIndex("by_stream", ["stream", "epoch", "version"], { unique: true });
  }
  if (missing(X3M_STORES.streams)) db.createObjectStore(X3M_STORES.streams, { keyPath: "stream" });
  if (missing(X3M_STORES.snapshots))
    db.createObjectStore(X3M_STORES.snapshots, { keyPath: ["stream", "schemaVersion"] });
  if (missing(X3M_STORES.checkpoints)) db.createObjectStore(X3M_STORES.checkpoints, { keyPath: "name" });
  if (missing(X3M_STORES.outbox)) {
    const outbox = db.createObjectStore(X3M_STORES.outbox, { keyPath: "seq", autoIncrement: true });
    outbox.createIndex("by_status", "status");
    outbox.createIndex("by_stream", "stream");
  }
  if (missing(X3M_STORES.sync)) db.createObjectStore(X3M_STORES.sync, { keyPath: "key" });
}
