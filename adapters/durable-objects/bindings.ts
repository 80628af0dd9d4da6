// The types of this adapter's objects as bindings in a Worker's `Env`. A plain `DurableObjectNamespace`
// does not say which RPC methods its stubs have, so `aggregateServices(env.ACCOUNTS, …)` refuses it.

import type { EventStreamRpc } from "./event-stream-object.ts";
import type { AggregateObjectRpc, ConnectionObjectRpc } from "./rpc.ts";
import type { SchedulerObjectRpc } from "./scheduler-object.ts";

/**
 * The binding of a `defineAggregateObject` class: what `aggregateServices` and `sync.aggregates` take.
 *
 * @example
 * interface Env {
 *   ACCOUNTS: AggregateObjectNamespace;   // [[durable_objects.bindings]] name = "ACCOUNTS", class_name = "AccountObject"
 *   REMINDERS: SchedulerObjectNamespace;
 *   CONNECTIONS: ConnectionObjectNamespace;
 * }
 * const accounts = aggregateServices(env.ACCOUNTS, account);
 */
export type AggregateObjectNamespace = DurableObjectNamespace<AggregateObjectRpc & Rpc.DurableObjectBranded>;

/** The binding of a `defineSchedulerObject` class: `schedulerClient(env.REMINDERS.get(…))`. */
export type SchedulerObjectNamespace = DurableObjectNamespace<SchedulerObjectRpc & Rpc.DurableObjectBranded>;

/** The binding of a `defineConnectionObject` class: the edge's `connections` and an aggregate object's pokes. */
export type ConnectionObjectNamespace = DurableObjectNamespace<ConnectionObjectRpc & Rpc.DurableObjectBranded>;

/** The binding of a `defineEventStreamObject` class: `shardedEventStreamTarget`, `remoteEventSource`. */
export type EventStreamObjectNamespace = DurableObjectNamespace<EventStreamRpc & Rpc.DurableObjectBranded>;
