import { SdkClientError, SdkErrorCode } from "../errors.ts";
import type { EventSource } from "../event-store/event-store.ts";
import { checkShardCount, shardName } from "../event-store/stream-shards.ts";
import type { CheckpointStore } from "./checkpoint-store.ts";
import { createProjector, type Projector, type ProjectorOptions, type ProjectorStatus } from "./projector.ts";

/** `defineShardedProjector`'s options: those of `defineProjector`, with one source per shard. */
export interface ShardedProjectorOptions<TTx = undefined> extends Omit<ProjectorOptions<TTx>, "source"> {
  /**
   * One log per shard, in shard order (e.g. `remoteShardedEventSource(env.ACCOUNT_EVENTS, layout)`). Each
   * stream must live in exactly one of them: per-stream order is then each shard's order.
   */
  readonly sources: readonly EventSource[];
  /** Empties the read model for `rebuild`, in the same `resetMany` as every shard's checkpoint. */
  truncate?(tx: TTx): void | Promise<void>;
}

/** A projection of a sharded log: one core projector per shard, one checkpoint per shard, one read model. */
export interface ShardedProjector {
  readonly name: string;
  /** How many shards it follows. */
  readonly shards: number;
  /** Starts every shard's projector (see `dependentHydration`); rejects, with all stopped, if one fails. */
  start(): Promise<void>;
  /** Stops every shard's projector: timers and subscriptions end; pending `waitFor`s resolve false. */
  stop(): void;
  /** Each shard's checkpoint, in shard order. */
  positions(): number[];
  /** True once every shard's checkpoint reaches its entry of `positions`; false after `timeoutMs` or on `stop`. */
  waitFor(positions: readonly number[], timeoutMs: number): Promise<boolean>;
  /** Truncates the read model and resets every shard's checkpoint in one `resetMany`, then re-projects all. */
  rebuild(): Promise<void>;
  /** `"retrying"` if any shard is, else `"catching_up"` if any shard is, else `"live"` (or `"stopped"`). */
  readonly status: ProjectorStatus;
  /** The first shard's last failure, in shard order. */
  readonly lastError: unknown;
}

/**
 * Commits and resets through one lane: `handle` never overlaps itself, across shards too, as with one
 * projector (a read model that sums over streams needs no locking of its own).
 */
function oneAtATime<TTx>(
  store: CheckpointStore<TTx>,
): CheckpointStore<TTx> & Required<Pick<CheckpointStore<TTx>, "resetMany">> {
  let tail: Promise<unknown> = Promise.resolve();
  const lane = <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work);
    tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };
  return {
    load: (name) => store.load(name),
    commit: (name, move, apply) => lane(() => store.commit(name, move, apply)),
    reset: (name, apply) => lane(() => store.reset(name, apply)),
    resetMany: (names, apply) =>
      lane(async () => {
        if (!store.resetMany) {
          throw new SdkClientError(
            SdkErrorCode.INVALID_OPTIONS,
            "this checkpoint store has no resetMany: a projector of several shards cannot rebuild on it",
          );
        }
        await store.resetMany(names, apply);
      }),
  };
}

/**
 * Projects a sharded log (see `shardOfStream`) into one read model: a core projector per shard, each
 * with its own checkpoint (`shardName({ name, shards }, i)`: the plain `name` when there is one shard),
 * committed by the checkpoint store together with the read-model write of that shard's event. A stream
 * lives in one shard, so its events are applied in its order; a slow or failing shard holds back only
 * its own streams. `handle` runs one event at a time across all shards.
 *
 * @example
 * import { defineShardedProjector } from "x3m-system";
 * import { remoteShardedEventSource } from "x3m-system/durable-objects";
 * const balances = defineShardedProjector({
 *   name: "balances",
 *   sources: remoteShardedEventSource(env.ACCOUNT_EVENTS, { name: "account", shards: 4 }),
 *   checkpoints: createSqlCheckpointStore(ctx.storage),
 *   handles: ["Deposited"],
 *   handle: (event, sql) => sql.exec("UPDATE balances SET total = total + ? WHERE id = ?", (event.data as Deposited).amount, event.stream),
 *   pollIntervalMs: 1_000,
 * });
 * await balances.start();
 */
export function defineShardedProjector<TTx = undefined>(options: ShardedProjectorOptions<TTx>): ShardedProjector {
  const { sources, checkpoints, ...projection } = options;
  if (!Array.isArray(sources) || sources.length === 0) {
    throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `projector "${options.name}": sources must name 1+ shards`);
  }
  const shards = checkShardCount(sources.length);
  const store = oneAtATime(checkpoints);
  const names = sources.map((_, shard) => shardName({ name: options.name, shards }, shard));
  const shardProjectors = sources.map((source, shard) =>
    createProjector({ ...projection, name: names[shard] as string, source, checkpoints: store }),
  );
  const projectors: Projector[] = shardProjectors.map((shard) => shard.projector);
  const statuses = () => projectors.map((projector) => projector.status);

  return {
    name: options.name,
    shards,
    start: async () => {
      try {
        await Promise.all(projectors.map((projector) => projector.start()));
      } catch (error) {
        for (const projector of projectors) projector.stop();
        throw error;
      }
    },
    stop: () => {
      for (const projector of projectors) projector.stop();
    },
    positions: () => projectors.map((projector) => projector.position()),
    waitFor: async (positions, timeoutMs) => {
      const reached = await Promise.all(
        projectors.map((projector, shard) => projector.waitFor(positions[shard] ?? 0, timeoutMs)),
      );
      return reached.every(Boolean);
    },
    rebuild: async () => {
      if (shards === 1) return (projectors[0] as Projector).rebuild();
      await store.resetMany(names, options.truncate && ((tx) => options.truncate?.(tx)));
      // Each shard re-reads from 0; a commit a shard made from its old position meanwhile is refused
      // by the store (the checkpoint is 0 now) and that shard continues from the stored position.
      await Promise.all(shardProjectors.map((shard) => shard.replayAfterReset()));
    },
    get status() {
      const all = statuses();
      for (const status of ["retrying", "catching_up", "live"] as const) if (all.includes(status)) return status;
      return "stopped";
    },
    get lastError() {
      return projectors.find((projector) => projector.lastError !== undefined)?.lastError;
    },
  };
}
