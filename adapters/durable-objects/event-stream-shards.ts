import {
  checkShardCount,
  type EventSource,
  type RecordedEvent,
  type StreamShardLayout,
  shardName,
  shardOfStream,
} from "../../src/index.ts";
import type { EventStreamRpc, ShardRoute } from "./event-stream-object.ts";
import type { OutboxTarget } from "./outbox-relay.ts";

/** The part of a Durable Object namespace binding (of a `defineEventStreamObject` class) the shards use. */
export interface EventStreamNamespace {
  /** The id of the object named `name` (a shard's name, see `shardName`). */
  idFromName(name: string): unknown;
  /** The stub of the object with that id. */
  get(id: never): EventStreamRpc;
}

/**
 * The object of one shard of a sharded stream (named by `shardName`: the plain name with one shard).
 * A new stub per call: a stub that saw a failure may stay broken, and making one is a local step.
 *
 * @example
 * const shard2 = eventStreamShard(env.ACCOUNT_EVENTS, { name: "account", shards: 4 }, 2);
 */
export function eventStreamShard(
  namespace: EventStreamNamespace,
  layout: StreamShardLayout,
  shard: number,
): EventStreamRpc {
  return namespace.get(namespace.idFromName(shardName(layout, shard)) as never);
}

/**
 * The relay target of a sharded stream (`relayTo` of `defineAggregateObject`): each batch from an outbox
 * is split by the shard of each event's stream, every shard's part is sent in the batch's order (so each
 * stream's order is kept) and the parts go out in parallel. The batch is acknowledged only when every
 * part was; a failed part fails the batch, which the relay sends again whole (the shards that had it
 * add nothing the second time).
 *
 * @example
 * export const AccountObject = defineAggregateObject(account, {
 *   relayTo: (env) => shardedEventStreamTarget(env.ACCOUNT_EVENTS, { name: "account", shards: 4 }),
 * });
 */
export function shardedEventStreamTarget(namespace: EventStreamNamespace, layout: StreamShardLayout): OutboxTarget {
  const shards = checkShardCount(layout.shards ?? 1);
  return {
    async ingest(events: RecordedEvent[]) {
      const parts = new Map<number, RecordedEvent[]>();
      for (const event of events) {
        const shard = shardOfStream(event.stream, shards);
        const part = parts.get(shard);
        if (part) part.push(event);
        else parts.set(shard, [event]);
      }
      const sent = [...parts].map(([shard, part]) =>
        eventStreamShard(namespace, layout, shard).ingest(part, { shard, shards }),
      );
      return (await Promise.all(sent)).reduce((sum, added) => sum + added, 0);
    },
  };
}

/**
 * One `EventSource` per shard of a sharded stream, in shard order: what `defineShardedProjector` follows
 * (one checkpoint per shard). The sources have no subscription: give the projector a `pollIntervalMs`.
 *
 * @example
 * const projector = defineShardedProjector({
 *   name: "balances",
 *   sources: remoteShardedEventSource(env.ACCOUNT_EVENTS, { name: "account", shards: 4 }),
 *   checkpoints: createSqlCheckpointStore(ctx.storage),
 *   handle,
 * });
 */
export function remoteShardedEventSource(namespace: EventStreamNamespace, layout: StreamShardLayout): EventSource[] {
  const shards = checkShardCount(layout.shards ?? 1);
  return Array.from({ length: shards }, (_, shard): EventSource => {
    const route: ShardRoute = { shard, shards };
    return {
      readAll: async (options) =>
        (await eventStreamShard(namespace, layout, shard).readAll(options, route)) as RecordedEvent[],
      lastPosition: () => eventStreamShard(namespace, layout, shard).lastPosition(route),
    };
  });
}
