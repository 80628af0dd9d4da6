import { DurableObject } from "cloudflare:workers";
import {
  checkShardCount,
  type EventSource,
  type ReadAllOptions,
  type RecordedEvent,
  SdkClientError,
  SdkErrorCode,
  shardOfStream,
} from "../../src/index.ts";
import { type EventRow, firstRow, rows, toRecorded } from "./storage.ts";

// One row per source event, unique by (stream, version): a relay that delivers twice (at least once)
// adds nothing the second time. The rowid is the global position: assigned here, in one object, gapless.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS x3m_stream_log (
  position INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  version INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  metadata TEXT NOT NULL,
  recorded_at INTEGER NOT NULL,
  UNIQUE (stream, version)
);`;

/** Which shard, of how many, a call is meant for: the sharded relay target and readers send it, the object checks it. */
export interface ShardRoute {
  readonly shard: number;
  readonly shards: number;
}

/** The RPC surface of an event stream object (one shard): ingest from outboxes, read in its global order. */
export interface EventStreamRpc {
  /** Adds the events it has not seen; answers how many were new. `route` is required when the class has several shards. */
  ingest(events: RecordedEvent[], route?: ShardRoute): Promise<number>;
  /** The shard's events after a position, in its order (as `EventSource.readAll`). */
  readAll(options?: ReadAllOptions, route?: ShardRoute): Promise<RecordedEvent[]>;
  /** The shard's last position (0 when empty). */
  lastPosition(route?: ShardRoute): Promise<number>;
}

/** `defineEventStreamObject`'s options. */
export interface EventStreamObjectOptions {
  /**
   * How many shards the objects of this class form: each object is one shard, named by `shardName`, and
   * holds the streams `shardOfStream(stream, shards)` puts in it. Fixed for a deployed stream: the same
   * count must be given to `shardedEventStreamTarget` and `remoteShardedEventSource` (a call for another
   * count is refused). @default 1
   */
  readonly shards?: number;
}

/** The class `defineEventStreamObject` returns: a Durable Object with the stream RPC methods. */
export type EventStreamObjectClass = new (
  ctx: DurableObjectState,
  env: Cloudflare.Env,
) => DurableObject & EventStreamRpc;

function refuse(message: string): never {
  throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `event stream: ${message}`);
}

/**
 * Makes the Durable Object class that gathers the committed events of one aggregate type from the
 * objects' outboxes into gapless global orders, for projectors on the edge. With one shard (the default)
 * one object takes every stream (`remoteEventSource`); with N, each object is the shard of the streams
 * that hash to it, so the fan-in of many aggregates is spread over N objects
 * (`shardedEventStreamTarget`, `remoteShardedEventSource`, `defineShardedProjector`).
 *
 * @example
 * import { defineEventStreamObject } from "x3m-system/durable-objects";
 * export const AccountEvents = defineEventStreamObject({ shards: 4 });
 */
export function defineEventStreamObject(options: EventStreamObjectOptions = {}): EventStreamObjectClass {
  const shards = checkShardCount(options.shards ?? 1);

  /** The route a call is for: what the class was defined with, else it is refused before anything is written. */
  const checkRoute = (route: ShardRoute | undefined, writing: boolean): ShardRoute => {
    if (route === undefined) {
      if (writing && shards !== 1) refuse(`a stream of ${shards} shards takes events only with their shard route`);
      return { shard: 0, shards };
    }
    if (route.shards !== shards) refuse(`a call for ${route.shards} shards reached a stream of ${shards} shards`);
    if (!Number.isSafeInteger(route.shard) || route.shard < 0 || route.shard >= shards) {
      refuse(`shard ${route.shard} does not exist in a stream of ${shards} shards`);
    }
    return route;
  };

  return class EventStreamObject extends DurableObject implements EventStreamRpc {
    constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
      super(ctx, env);
      ctx.storage.sql.exec(SCHEMA);
    }

    async ingest(events: RecordedEvent[], route?: ShardRoute): Promise<number> {
      const { shard } = checkRoute(route, true);
      // Every stream lives in one shard (its order is that shard's order): a misrouted event is refused.
      let checked: string | undefined;
      for (const event of events) {
        if (typeof event.stream !== "string") refuse("an event without a stream name");
        if (event.stream === checked) continue; // a batch is usually one stream: hash it once
        const belongs = shardOfStream(event.stream, shards);
        if (belongs !== shard) refuse(`stream "${event.stream}" belongs to shard ${belongs}, not ${shard}`);
        checked = event.stream;
      }
      const { sql } = this.ctx.storage;
      return this.ctx.storage.transactionSync(() => {
        let added = 0;
        for (const event of events) {
          const { rowsWritten } = sql.exec(
            `INSERT INTO x3m_stream_log (stream, version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (stream, version) DO NOTHING`,
            event.stream,
            event.version,
            event.type,
            JSON.stringify(event.data),
            JSON.stringify(event.metadata),
            event.recordedAt,
          );
          // A duplicate writes nothing; a new event writes its row (and its index entry, also counted).
          if (rowsWritten > 0) added++;
        }
        return added;
      });
    }

    #last(): number {
      return (
        firstRow<{ last: number | null }>(this.ctx.storage, "SELECT MAX(position) AS last FROM x3m_stream_log")?.last ??
        0
      );
    }

    async readAll({ after = 0, limit = 1_000 }: ReadAllOptions = {}, route?: ShardRoute): Promise<RecordedEvent[]> {
      checkRoute(route, false);
      return rows<EventRow>(
        this.ctx.storage,
        "SELECT * FROM x3m_stream_log WHERE position > ? ORDER BY position LIMIT ?",
        after,
        limit,
      ).map(toRecorded);
    }

    async lastPosition(route?: ShardRoute): Promise<number> {
      checkRoute(route, false);
      return this.#last();
    }
  };
}

/**
 * An `EventSource` over an event stream object's RPC (one shard): what `defineProjector` reads on the edge.
 *
 * @example
 * const projector = defineProjector({ name: "balances", source: remoteEventSource(env.ACCOUNT_EVENTS.get(id)), … });
 */
export function remoteEventSource(
  stub: Pick<EventStreamRpc, "readAll" | "lastPosition">,
  route?: ShardRoute,
): EventSource {
  return {
    readAll: async (options) => (await stub.readAll(options, route)) as RecordedEvent[],
    lastPosition: () => stub.lastPosition(route),
  };
}
