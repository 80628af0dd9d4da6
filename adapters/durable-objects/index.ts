/** @module x3m-system/durable-objects: aggregates and scheduled delivery on Cloudflare Durable Objects. */

// The client's home is `x3m-system/edge-client` (it imports in plain Node and browsers; this subpath needs a
// Workers bundle). Re-exported here so that imports written before it existed keep working: the one
// import of another adapter, in this direction only (the client never imports the server side).
export {
  type EdgeSocket,
  type EdgeSocketConstructor,
  type EdgeTicketOptions,
  type EdgeTransport,
  type EdgeTransportOptions,
  edgeTransport,
  type TrackedAggregate,
} from "../edge-client/index.ts";
export {
  type AggregateObjectClass,
  type AggregateObjectOptions,
  defineAggregateObject,
} from "./aggregate-object.ts";
export {
  aggregateServices,
  type ForwardOptions,
  syncAggregate,
} from "./aggregate-services.ts";
export { type AlarmClock, createAlarmClock, type DurableAlarmStorage } from "./alarm-clock.ts";
export type {
  AggregateObjectNamespace,
  ConnectionObjectNamespace,
  EventStreamObjectNamespace,
  SchedulerObjectNamespace,
} from "./bindings.ts";
export {
  type ConnectionObjectClass,
  defineConnectionObject,
} from "./connection-object.ts";
export type { EdgeConnectionNamespace, EdgeWorkerOptions, Principal, SyncOptions } from "./edge-options.ts";
export { createEdgeWorker } from "./edge-worker.ts";
export {
  defineEventStreamObject,
  type EventStreamObjectClass,
  type EventStreamObjectOptions,
  type EventStreamRpc,
  remoteEventSource,
  type ShardRoute,
} from "./event-stream-object.ts";
export {
  type EventStreamNamespace,
  eventStreamShard,
  remoteShardedEventSource,
  shardedEventStreamTarget,
} from "./event-stream-shards.ts";
export { httpStatusOf } from "./http-endpoint.ts";
export { createOutboxRelay, type OutboxRelay, type OutboxTarget } from "./outbox-relay.ts";
export type {
  AggregateCall,
  AggregateNamespace,
  AggregateObjectRpc,
  ClientCommandData,
  ConnectionNamespace,
  ConnectionObjectRpc,
  Watcher,
} from "./rpc.ts";
export {
  defineSchedulerObject,
  runSchedulerAlarm,
  type SchedulerObjectClass,
  type SchedulerObjectOptions,
  type SchedulerObjectRpc,
  type SchedulerStub,
  schedulerClient,
} from "./scheduler-object.ts";
export { createSqlAlarmStore } from "./sql-alarm-store.ts";
export { createSqlCheckpointStore, type DurableTransactionalStorage } from "./sql-checkpoint-store.ts";
export { createSqlEventStore } from "./sql-event-store.ts";
export type { DurableSqlStorage } from "./storage.ts";
