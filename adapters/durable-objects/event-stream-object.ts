import { DurableObject } from "cloudflare:workers";
import type { EventSource, ReadAllOptions, RecordedEvent } from "../../src/index.ts";
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

/** The RPC surface of an event stream object: ingest from outboxes, read in global order. */
export interface EventStreamRpc {
  ingest(events: RecordedEvent[]): Promise<number>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  lastPosition(): Promise<number>;
}

export type EventStreamObjectClass = new (
  ctx: DurableObjectState,
  env: Cloudflare.Env,
) => DurableObject & EventStreamRpc;

/**
 * Makes the Durable Object class that gathers the committed events of one aggregate type from the
 * objects' outboxes into one gapless global order, for projectors on the edge (`remoteEventSource`).
 *
 * @example
 * import { defineEventStreamObject } from "x3m-system/durable-objects";
 * export const AccountEvents = defineEventStreamObject();
 */
export function defineEventStreamObject(): EventStreamObjectClass {
  return class EventStreamObject extends DurableObject implements EventStreamRpc {
    constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
      super(ctx, env);
      ctx.storage.sql.exec(SCHEMA);
    }

    /** Adds the events it has not seen (by stream and version); answers how many were new. */
    async ingest(events: RecordedEvent[]): Promise<number> {
      return this.ctx.storage.transactionSync(() => {
        let added = 0;
        for (const event of events) {
          const inserted = firstRow<{ position: number }>(
            this.ctx.storage,
            `INSERT INTO x3m_stream_log (stream, version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (stream, version) DO NOTHING RETURNING position`,
            event.stream,
            event.version,
            event.type,
            JSON.stringify(event.data),
            JSON.stringify(event.metadata),
            event.recordedAt,
          );
          if (inserted) added++;
        }
        return added;
      });
    }

    async readAll({ after = 0, limit = 1_000 }: ReadAllOptions = {}): Promise<RecordedEvent[]> {
      return rows<EventRow>(
        this.ctx.storage,
        "SELECT * FROM x3m_stream_log WHERE position > ? ORDER BY position LIMIT ?",
        after,
        limit,
      ).map(toRecorded);
    }

    async lastPosition(): Promise<number> {
      return (
        firstRow<{ last: number | null }>(this.ctx.storage, "SELECT MAX(position) AS last FROM x3m_stream_log")?.last ??
        0
      );
    }
  };
}

/**
 * An `EventSource` over an event stream object's RPC: what `defineProjector` reads on the edge.
 *
 * @example
 * const projector = defineProjector({ name: "balances", source: remoteEventSource(env.ACCOUNT_EVENTS.get(id)), … });
 */
export function remoteEventSource(stub: Pick<EventStreamRpc, "readAll" | "lastPosition">): EventSource {
  return {
    readAll: async (options) => (await stub.readAll(options)) as RecordedEvent[],
    lastPosition: () => stub.lastPosition(),
  };
}
