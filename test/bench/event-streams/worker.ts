// The sharded event streams benchmark's Worker (`npm run bench` starts it with `wrangler dev`). Many
// aggregate-like objects hold committed events in their transactional outboxes; one call relays all of
// them at once into one stream shard, four shards, or a raw baseline object, and answers when every
// outbox is empty. And one shard's own ingest cost, timed inside it next to plain INSERTs.
import { DurableObject } from "cloudflare:workers";
// The adapter's modules one by one: the benchmark needs neither the edge Worker nor sync.
import { defineEventStreamObject, type ShardRoute } from "../../../adapters/durable-objects/event-stream-object.ts";
import { shardedEventStreamTarget } from "../../../adapters/durable-objects/event-stream-shards.ts";
import { createOutboxRelay, type OutboxTarget } from "../../../adapters/durable-objects/outbox-relay.ts";
import { createSqlEventStore } from "../../../adapters/durable-objects/sql-event-store.ts";
import { type Clock, type EventStore, type RecordedEvent, shardName } from "../../../src/index.ts";

interface Env {
  readonly RELAYERS: DurableObjectNamespace<Relayer>;
  readonly EVENTS_1: DurableObjectNamespace<OneShardEvents>;
  readonly EVENTS_4: DurableObjectNamespace<FourShardEvents>;
  readonly RAW_SINK: DurableObjectNamespace<RawSink>;
}

export type Target = "raw" | "shards-1" | "shards-4";
export const LAYOUTS = { "shards-1": { name: "bench", shards: 1 }, "shards-4": { name: "bench", shards: 4 } } as const;

/** What a sink reports: ingest calls and events since the last report, and rows stored in all. */
export interface SinkStats {
  readonly requests: number;
  readonly events: number;
  readonly stored: number;
}

/** Counts an object's ingest calls; each report starts a new count. */
class Meter {
  requests = 0;
  events = 0;
  add(events: number): void {
    this.requests++;
    this.events += events;
  }
  take(stored: number): SinkStats {
    const stats = { requests: this.requests, events: this.events, stored };
    this.requests = 0;
    this.events = 0;
    return stats;
  }
}

/** Metadata shaped like a real command's (three message ids and the answer), so rows have their real size. */
function commandMetadata(version: number) {
  const id = crypto.randomUUID();
  return { messageId: id, correlationId: id, causationId: id, response: { status: "ok", version } };
}

/** `count` deposits as relayed events: one new stream each, or one stream of `count` versions. */
function relayedEvents(tag: string, count: number, oneStream: boolean): RecordedEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    stream: oneStream ? `account-${tag}` : `account-${tag}-${i}`,
    version: oneStream ? i : 0,
    position: i + 1,
    type: "Deposited",
    data: { type: "Deposited", amount: 1 },
    metadata: commandMetadata(oneStream ? i : 0),
    recordedAt: Date.now(),
  }));
}

/** What an in-object loop of ingest calls answers: its time, and how much the database grew. */
export interface LoopResult {
  readonly ms: number;
  readonly bytes: number;
}

/** Times `calls` ingests of `perCall` new events each inside the object (the events are built untimed). */
async function ingestLoop(
  storage: DurableObjectStorage,
  ingest: (events: RecordedEvent[]) => unknown,
  options: { calls: number; perCall: number; tag: string },
): Promise<LoopResult> {
  const batches = Array.from({ length: options.calls }, (_, call) =>
    relayedEvents(`${options.tag}-${call}`, options.perCall, true),
  );
  const size = storage.sql.databaseSize;
  const start = performance.now();
  for (const batch of batches) await ingest(batch);
  return { ms: performance.now() - start, bytes: storage.sql.databaseSize - size };
}

/**
 * The baselines' write: each event a plain INSERT, in one `transactionSync` per call; with `dedup`, into a
 * table with the same (stream, version) unique index and `ON CONFLICT DO NOTHING` as a shard (the same
 * work by hand).
 */
function rawInsert(storage: DurableObjectStorage, events: RecordedEvent[], dedup = false): number {
  const insert = dedup
    ? "INSERT INTO raw_dedup (stream, version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stream, version) DO NOTHING"
    : "INSERT INTO raw_log (stream, version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)";
  storage.transactionSync(() => {
    for (const e of events) {
      storage.sql.exec(
        insert,
        e.stream,
        e.version,
        e.type,
        JSON.stringify(e.data),
        JSON.stringify(e.metadata),
        e.recordedAt,
      );
    }
  });
  return events.length;
}

function timedStream(shards: number) {
  return class extends defineEventStreamObject({ shards }) {
    readonly #meter = new Meter();
    override async ingest(events: RecordedEvent[], route?: ShardRoute): Promise<number> {
      this.#meter.add(events.length);
      return super.ingest(events, route);
    }
    async stats(): Promise<SinkStats> {
      return this.#meter.take(await this.lastPosition());
    }
    /** Ingest calls made inside the object: its own cost per call, without the relay or the RPC. */
    async ingestLoop(calls: number, perCall: number, tag: string): Promise<LoopResult> {
      return ingestLoop(this.ctx.storage, (events) => super.ingest(events), { calls, perCall, tag });
    }
  };
}

/** The stream of one shard (`defineEventStreamObject()`, the default). */
export class OneShardEvents extends timedStream(1) {}
/** The four shards of `defineEventStreamObject({ shards: 4 })`. */
export class FourShardEvents extends timedStream(4) {}

/** Baseline: the same relayed events, each a plain INSERT into one object (no de-duplication, no route check). */
export class RawSink extends DurableObject<Env> {
  readonly #meter = new Meter();
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    for (const [table, unique] of [
      ["raw_log", ""],
      ["raw_dedup", ", UNIQUE (stream, version)"],
    ]) {
      ctx.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS ${table} (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, version INTEGER NOT NULL,
         type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, recorded_at INTEGER NOT NULL${unique})`,
      );
    }
  }
  ingest(events: RecordedEvent[]): number {
    this.#meter.add(events.length);
    return rawInsert(this.ctx.storage, events);
  }
  /** The baselines of `ingestLoop`: the same rows as plain INSERTs, with or without the shard's unique index. */
  async ingestLoop(calls: number, perCall: number, tag: string, dedup: boolean): Promise<LoopResult> {
    return ingestLoop(this.ctx.storage, (events) => rawInsert(this.ctx.storage, events, dedup), {
      calls,
      perCall,
      tag,
    });
  }
  stats(): SinkStats {
    return this.#meter.take(this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM raw_log").toArray()[0]?.n as number);
  }
}

/** Never fires: the benchmark awaits each relay's `flush()` itself. */
const noTimers: Clock = { now: () => Date.now(), setTimeout: () => () => {} };

/** An aggregate's side of the relay: events appended with the outbox, relayed by `createOutboxRelay`. */
export class Relayer extends DurableObject<Env> {
  readonly #store: EventStore;
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = createSqlEventStore(ctx.storage, { outbox: true });
  }

  /** Appends `events` deposits to a new stream, one append each (as one command each would). */
  async seed(stream: string, events: number): Promise<void> {
    for (let i = 0; i < events; i++) {
      await this.#store.append(stream, [{ type: "Deposited", amount: 1 }], { metadata: commandMetadata(i) });
    }
  }

  /** Relays the whole outbox to `target`; answers how many rows are left (0 unless a send failed). */
  async relay(target: Target): Promise<number> {
    const sink: OutboxTarget =
      target === "raw"
        ? this.env.RAW_SINK.get(this.env.RAW_SINK.idFromName("raw"))
        : shardedEventStreamTarget(target === "shards-1" ? this.env.EVENTS_1 : this.env.EVENTS_4, LAYOUTS[target]);
    await createOutboxRelay({ storage: this.ctx.storage, clock: noTimers, target: sink }).flush();
    return this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM x3m_outbox").toArray()[0]?.n as number;
  }
}

const relayer = (env: Env, i: number) => env.RELAYERS.get(env.RELAYERS.idFromName(`relayer-${i}`));

/** The stats of every object `target` writes to, in shard order. */
function sinks(env: Env, target: Target): Promise<SinkStats[]> {
  if (target === "raw") return Promise.all([env.RAW_SINK.get(env.RAW_SINK.idFromName("raw")).stats()]);
  const layout = LAYOUTS[target];
  const namespace = target === "shards-1" ? env.EVENTS_1 : env.EVENTS_4;
  return Promise.all(
    Array.from({ length: layout.shards }, (_, shard) =>
      namespace.get(namespace.idFromName(shardName(layout, shard))).stats(),
    ),
  );
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const aggregates = Number(url.searchParams.get("aggregates"));
    const events = Number(url.searchParams.get("events"));
    const target = url.searchParams.get("target") as Target;
    const tag = url.searchParams.get("tag") ?? "";
    try {
      const all = Array.from({ length: aggregates }, (_, i) => i);
      switch (url.pathname) {
        // Untimed: every relayer gets `events` new events on a new stream in its outbox.
        case "/seed":
          await Promise.all(all.map((i) => relayer(env, i).seed(`account-${tag}-${i}`, events)));
          return Response.json({ ok: true });
        // Timed by the caller: every relayer relays its outbox at once.
        case "/relay": {
          const left = await Promise.all(all.map((i) => relayer(env, i).relay(target)));
          return Response.json({ left: left.reduce((a, b) => a + b, 0) });
        }
        // One object times its own ingest calls (no relay, no RPC): `raw`, `raw-dedup` or `shards-1`.
        case "/loop": {
          const calls = Number(url.searchParams.get("calls"));
          const perCall = Number(url.searchParams.get("perCall"));
          const kind = url.searchParams.get("target");
          if (kind === "shards-1") {
            return Response.json(
              await env.EVENTS_1.get(env.EVENTS_1.idFromName("loop")).ingestLoop(calls, perCall, tag),
            );
          }
          const raw = env.RAW_SINK.get(env.RAW_SINK.idFromName("loop"));
          return Response.json(await raw.ingestLoop(calls, perCall, tag, kind === "raw-dedup"));
        }
        case "/stats":
          return Response.json(await sinks(env, target));
        default:
          return new Response("x3m-system stream benchmark worker: /seed, /relay, /stats, /loop", { status: 404 });
      }
    } catch (error) {
      return Response.json(
        { error: error instanceof Error ? (error.stack ?? error.message) : String(error) },
        { status: 500 },
      );
    }
  },
} satisfies ExportedHandler<Env>;
