/**
 * Sharding a global event log: each stream belongs to exactly one of N shards, chosen by a stable hash of
 * its name, so every shard is a log of its own (gapless, its own global order) and a stream's order is
 * its shard's order.
 *
 * The hash is part of the stored data's meaning: events already placed in shard `k` of N stay there, so
 * for a given N it must never change. `test/node/stream-shards.test.ts` pins known values; a change to
 * this function fails it.
 */
import { SdkClientError, SdkErrorCode } from "../errors.ts";

/** Most shards one stream may have: far above any fan-in one type of aggregate needs, low enough to catch typos. */
export const MAX_STREAM_SHARDS = 1_024;

/** The shape of a sharded event log: the name its shards are derived from and how many there are. */
export interface StreamShardLayout {
  /** The log's name (e.g. the aggregate type): with one shard, the shard's own name. */
  readonly name: string;
  /** 1 to `MAX_STREAM_SHARDS`. Fixed for a deployed log: see `shardOfStream`. @default 1 */
  readonly shards?: number;
}

let utf8: TextEncoder | undefined;

/**
 * The 32-bit hash of a stream name that places it in a shard: FNV-1a (offset basis 0x811c9dc5, prime
 * 0x01000193) over the name's UTF-8 bytes, then MurmurHash3's 32-bit finalizer (`h ^= h >>> 16;
 * h *= 0x85ebca6b; h ^= h >>> 13; h *= 0xc2b2ae35; h ^= h >>> 16`, multiplications modulo 2^32), unsigned.
 * The finalizer spreads FNV's weak low bits, which `% shards` uses.
 *
 * @example
 * streamHash("account-1"); // 0..2^32-1, the same in every runtime and release
 */
export function streamHash(stream: string): number {
  utf8 ??= new TextEncoder();
  let hash = 0x811c9dc5;
  for (const byte of utf8.encode(stream)) hash = Math.imul(hash ^ byte, 0x01000193);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/**
 * Checks a shard count (an integer from 1 to `MAX_STREAM_SHARDS`) and returns it.
 *
 * @example
 * const shards = checkShardCount(options.shards ?? 1);
 */
export function checkShardCount(shards: number): number {
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > MAX_STREAM_SHARDS) {
    throw new SdkClientError(
      SdkErrorCode.INVALID_OPTIONS,
      `a stream's shard count must be an integer from 1 to ${MAX_STREAM_SHARDS}, got ${String(shards)}`,
    );
  }
  return shards;
}

/**
 * The shard (0 to `shards` - 1) a stream belongs to: `streamHash(stream) % shards`. Stable for a given
 * `shards`; with another count about (N-1)/N of the streams move, and a moved stream's old events stay in
 * its old shard, so changing N is not a setting but a new log (see `shardName`).
 *
 * @example
 * shardOfStream("account-acc-1", 4); // 0, 1, 2 or 3, forever
 */
export function shardOfStream(stream: string, shards: number): number {
  return checkShardCount(shards) === 1 ? 0 : streamHash(stream) % shards;
}

/**
 * The name of shard `shard` of a sharded log: the log's own name when it has one shard (so a log that was
 * never sharded keeps its name), else `${name}/shard-${shard}-of-${shards}`. The count is part of the
 * name, so a log deployed with another count starts as a new, empty set of shards instead of mixing two
 * mappings in one shard. Used for the shards' objects and for their projectors' checkpoints.
 *
 * @example
 * shardName({ name: "account", shards: 4 }, 2); // "account/shard-2-of-4"
 * shardName({ name: "account" }, 0);            // "account"
 */
export function shardName(layout: StreamShardLayout, shard: number): string {
  const shards = checkShardCount(layout.shards ?? 1);
  if (!Number.isSafeInteger(shard) || shard < 0 || shard >= shards) {
    throw new SdkClientError(
      SdkErrorCode.INVALID_OPTIONS,
      `shard ${String(shard)} does not exist in "${layout.name}" (${shards} shards)`,
    );
  }
  return shards === 1 ? layout.name : `${layout.name}/shard-${shard}-of-${shards}`;
}
