/**
 * `x3m-system/indexeddb`: the event store, projector checkpoints and the offline sync client on the browser's IndexedDB.
 * @module x3m-system/indexeddb
 */
export {
  type CheckpointTransaction,
  createIndexedDbCheckpointStore,
  type IndexedDbCheckpointStoreOptions,
} from "./checkpoint-store.ts";
export {
  type IndexedDbEventStore,
  type IndexedDbEventStoreOptions,
  type OwnDatabaseOptions,
  openIndexedDbEventStore,
  type SharedDatabaseOptions,
} from "./event-store.ts";
export {
  appendInTransaction,
  type NewEvent,
  readStreamInTransaction,
  streamVersionInTransaction,
} from "./event-store-transaction.ts";
export type { LiveOptions } from "./live-pokes.ts";
// The offline sync client (offline-client.ts and its modules).
export {
  type AggregateView,
  createOfflineClient,
  type OfflineAggregate,
  type OfflineClient,
  type OfflineClientOptions,
  type OfflineServiceOptions,
  type PendingCommand,
  type SyncStatus,
} from "./offline-client.ts";
export type { OutboxRow } from "./outbox.ts";
export {
  type AnswerRow,
  type CheckpointRow,
  type ClientRow,
  EVENT_STORE_NAMES,
  type EventRow,
  type OutboxRowShape,
  type SnapshotRow,
  type StreamRow,
  X3M_SCHEMA_VERSION,
  X3M_STORES,
  type X3mDatabase,
  type X3mSchema,
  type X3mTransaction,
} from "./schema.ts";
export { type IndexedDbFailure, indexedDbFailureOf } from "./storage-error.ts";
export { type SyncEndpoint, SyncRequestError } from "./sync-protocol.ts";
export { createX3mStores } from "./upgrade.ts";
