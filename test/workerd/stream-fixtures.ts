// Objects of the sharded-stream tests: a stream whose shards can hold back their answers (to abort
// objects while relays are in flight) and a projection object following every shard.
import { DurableObject } from "cloudflare:workers";
import {
  createSqlCheckpointStore,
  defineEventStreamObject,
  remoteShardedEventSource,
  type ShardRoute,
} from "../../adapters/durable-objects/index.ts";
import {
  defineShardedProjector,
  type RecordedEvent,
  type ShardedProjector,
  type StreamShardLayout,
  shardOfStream,
} from "../../src/index.ts";

/** The layout every sharded test stream uses: the accounts' streams over 4 shards. */
export const SHARDED_ACCOUNTS_STREAM = { name: "account", shards: 4 } as const satisfies StreamShardLayout;

/**
 * A shard that, once told to hold, writes what it is sent and then keeps the answer back: the relay sees
 * no acknowledgement for events the shard stored. The switch and the count live in the object's storage,
 * so an idle eviction before the relays arrive does not drop them; `release()` ends it.
 */
export class GatedAccountEvents extends defineEventStreamObject({ shards: SHARDED_ACCOUNTS_STREAM.shards }) {
  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS gate (id INTEGER PRIMARY KEY, holding INTEGER, held INTEGER)");
    ctx.storage.sql.exec("INSERT INTO gate VALUES (1, 0, 0) ON CONFLICT DO NOTHING");
  }

  override async ingest(events: RecordedEvent[], route?: ShardRoute): Promise<number> {
    const added = await super.ingest(events, route);
    if (this.#gate().holding === 1) {
      this.ctx.storage.sql.exec("UPDATE gate SET held = held + 1");
      await new Promise<never>(() => {});
    }
    return added;
  }

  /** From now on, answers are held back, until `release()`. */
  hold(): void {
    this.ctx.storage.sql.exec("UPDATE gate SET holding = 1, held = 0");
  }

  /** Answers again (calls held by an earlier instance are gone with it). */
  release(): void {
    this.ctx.storage.sql.exec("UPDATE gate SET holding = 0");
  }

  /** How many ingests were written and held back their answer. */
  held(): number {
    return this.#gate().held;
  }

  #gate(): { holding: number; held: number } {
    return this.ctx.storage.sql.exec("SELECT holding, held FROM gate").one() as { holding: number; held: number };
  }
}

type ShardedBinding = "SHARDED_ACCOUNT_EVENTS" | "GATED_ACCOUNT_EVENTS";

/** One handled event, in the order the projection handled it. */
export interface HandledRow {
  readonly stream: string;
  readonly version: number;
  readonly shard: number;
}

/**
 * A read model on the edge: a sharded projector over one of the sharded test streams, its checkpoints
 * in this object's SQLite (`createSqlCheckpointStore`) in the same transaction as each handled row.
 */
export class AccountProjection extends DurableObject {
  #projector: ShardedProjector | undefined;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS handled (seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, version INTEGER NOT NULL, shard INTEGER NOT NULL)",
    );
  }

  /** Starts following `binding`'s shards (once) and answers whether every shard reached `until` in time. */
  async follow(binding: ShardedBinding, until: number[], timeoutMs: number): Promise<boolean> {
    if (!this.#projector) {
      const env = this.env as Cloudflare.Env;
      const { shards } = SHARDED_ACCOUNTS_STREAM;
      this.#projector = defineShardedProjector({
        name: "balances",
        sources: remoteShardedEventSource(env[binding], SHARDED_ACCOUNTS_STREAM),
        checkpoints: createSqlCheckpointStore(this.ctx.storage),
        handle: (event, sql) => {
          sql.exec(
            "INSERT INTO handled (stream, version, shard) VALUES (?, ?, ?)",
            event.stream,
            event.version,
            shardOfStream(event.stream, shards),
          );
        },
        dependentHydration: true,
        pollIntervalMs: 20,
      });
      await this.#projector.start();
    }
    return this.#projector.waitFor(until, timeoutMs);
  }

  /** The handled events of the streams starting with `prefix`, in the order they were handled. */
  handled(prefix: string): HandledRow[] {
    return this.ctx.storage.sql
      .exec(
        "SELECT stream, version, shard FROM handled WHERE substr(stream, 1, ?) = ? ORDER BY seq",
        prefix.length,
        prefix,
      )
      .toArray() as unknown as HandledRow[];
  }

  /** The stored checkpoints, by name. */
  checkpoints(): Record<string, number> {
    const rows = this.ctx.storage.sql.exec("SELECT name, position FROM x3m_checkpoints").toArray();
    return Object.fromEntries(rows.map((row) => [row.name as string, row.position as number]));
  }

  stop(): void {
    this.#projector?.stop();
  }
}
