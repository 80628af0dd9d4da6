import type { DBSchema, IDBPDatabase, IDBPTransaction } from "idb";
import type { EventMetadata, Response } from "../../src/index.ts";

/**
 * The object stores this adapter keeps in a database, all prefixed `x3m_` so they sit next to an app's
 * own read-model stores. `outbox` and `sync` belong to the offline sync client.
 *
 * @example
 * import { X3M_STORES } from "x3m-system/indexeddb";
 * const tx = db.transaction([X3M_STORES.checkpoints, "balances"], "readwrite");
 */
export const X3M_STORES = {
  events: "x3m_events",
  streams: "x3m_streams",
  snapshots: "x3m_snapshots",
  checkpoints: "x3m_checkpoints",
  outbox: "x3m_outbox",
  sync: "x3m_sync",
  answers: "x3m_answers",
  clients: "x3m_clients",
} as const;

/** The version of the x3m stores' layout: `openIndexedDbEventStore` opens its own database at this version. */
export const X3M_SCHEMA_VERSION = 2;

/**
 * The stores a transaction must cover for `appendInTransaction` and the other `…InTransaction` helpers.
 *
 * @example
 * import { EVENT_STORE_NAMES } from "x3m-system/indexeddb";
 * const tx = db.transaction([...EVENT_STORE_NAMES, "x3m_outbox"], "readwrite");
 */
export const EVENT_STORE_NAMES = [X3M_STORES.events, X3M_STORES.streams] as const;

/**
 * An event as stored: a `RecordedEvent` plus its stream's epoch. `deleteStream` bumps the epoch, so a
 * re-created stream starts again from version 0 while the old events stay in the global log. Rows are
 * never deleted: positions stay gapless.
 *
 * @example
 * import { X3M_STORES, type EventRow } from "x3m-system/indexeddb";
 * const first: EventRow | undefined = await store.db.get(X3M_STORES.events, 1);
 */
export interface EventRow {
  readonly position: number;
  readonly stream: string;
  readonly epoch: number;
  readonly version: number;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  readonly recordedAt: number;
}

/**
 * A stream's current version (-1 once deleted) and epoch.
 *
 * @example
 * import { X3M_STORES, type StreamRow } from "x3m-system/indexeddb";
 * const row: StreamRow | undefined = await store.db.get(X3M_STORES.streams, "account-1");
 */
export interface StreamRow {
  readonly stream: string;
  readonly version: number;
  readonly epoch: number;
}

/**
 * The latest snapshot of one stream for one schema version (key `[stream, schemaVersion]`).
 *
 * @example
 * import { X3M_STORES, type SnapshotRow } from "x3m-system/indexeddb";
 * const row: SnapshotRow | undefined = await store.db.get(X3M_STORES.snapshots, ["account-1", 2]);
 */
export interface SnapshotRow {
  readonly stream: string;
  readonly schemaVersion: number;
  readonly version: number;
  readonly state: unknown;
}

/**
 * A projector's checkpoint (key `name`; no row = position 0).
 *
 * @example
 * import { X3M_STORES, type CheckpointRow } from "x3m-system/indexeddb";
 * const row: CheckpointRow | undefined = await db.get(X3M_STORES.checkpoints, "balances");
 */
export interface CheckpointRow {
  readonly name: string;
  readonly position: number;
}

/**
 * What the `x3m_outbox` store's key and indexes need of a row (`seq` auto-assigned, indexes `by_status`,
 * `by_stream`, `by_message` and `by_failure`); the sync client owns the rest of its shape.
 *
 * @example
 * import { X3M_STORES } from "x3m-system/indexeddb";
 * const pending = await db.getAllFromIndex(X3M_STORES.outbox, "by_status", "pending");
 */
export interface OutboxRowShape {
  readonly seq?: number;
  readonly messageId: string;
  readonly stream: string;
  readonly status: string;
}

/**
 * The answer of a command that appended nothing (key `[stream, messageId]`): see `EventStore.recordAnswer`.
 *
 * @example
 * import { X3M_STORES, type AnswerRow } from "x3m-system/indexeddb";
 * const row: AnswerRow | undefined = await db.get(X3M_STORES.answers, ["account-1", messageId]);
 */
export interface AnswerRow {
  readonly stream: string;
  readonly messageId: string;
  readonly response: Response;
}

/**
 * The last sequence number recorded for a client on a stream (key `[stream, clientId]`).
 *
 * @example
 * import { X3M_STORES, type ClientRow } from "x3m-system/indexeddb";
 * const row: ClientRow | undefined = await db.get(X3M_STORES.clients, ["account-1", clientId]);
 */
export interface ClientRow {
  readonly stream: string;
  readonly clientId: string;
  readonly seq: number;
}

/**
 * The typed schema of the x3m stores, for idb's `DBSchema`: extend it with an app's own stores.
 *
 * @example
 * import type { X3mSchema } from "x3m-system/indexeddb";
 * interface AppSchema extends X3mSchema {
 *   balances: { key: string; value: { account: string; balance: number } };
 * }
 * const db = await openDB<AppSchema>("app", 1, { upgrade: (db) => { createX3mStores(db); db.createObjectStore("balances", { keyPath: "account" }); } });
 */
export interface X3mSchema extends DBSchema {
  x3m_events: {
    key: number;
    value: EventRow;
    indexes: { by_stream: [string, number, number]; by_message: [string, string] };
  };
  x3m_streams: { key: string; value: StreamRow };
  x3m_snapshots: { key: [string, number]; value: SnapshotRow };
  x3m_checkpoints: { key: string; value: CheckpointRow };
  x3m_outbox: {
    key: number;
    value: OutboxRowShape;
    indexes: { by_status: string; by_stream: string; by_message: string; by_failure: string };
  };
  x3m_sync: { key: string; value: { readonly key: string } };
  x3m_answers: { key: [string, string]; value: AnswerRow };
  x3m_clients: { key: [string, string]; value: ClientRow };
}

/**
 * An idb transaction of any app schema whose scope covers the x3m stores a helper touches. Untyped on
 * purpose: idb's typed transactions of different schemas are not assignable to one another.
 *
 * @example
 * import type { X3mTransaction } from "x3m-system/indexeddb";
 * const write = (tx: X3mTransaction) => appendInTransaction(tx, "account-1", [{ data: { type: "Opened" } }]);
 */
// biome-ignore lint/suspicious/noExplicitAny: accepts every app's schema, see above.
export type X3mTransaction<TMode extends IDBTransactionMode = "readwrite"> = IDBPTransaction<any, any, TMode>;

/**
 * An idb database of any app schema that holds the x3m stores (see `createX3mStores`).
 *
 * @example
 * import type { X3mDatabase } from "x3m-system/indexeddb";
 * const store = await openIndexedDbEventStore({ db: appDb satisfies X3mDatabase });
 */
// biome-ignore lint/suspicious/noExplicitAny: accepts every app's schema, see X3mTransaction.
export type X3mDatabase = IDBPDatabase<any>;
