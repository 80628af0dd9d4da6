// The shard function of sharded event streams: a stream's shard must never change for a deployed shard
// count (its events already sit there), and shards must fill about evenly.
import { describe, expect, it } from "vitest";
import { SdkClientError } from "../../src/errors.ts";
import { MAX_STREAM_SHARDS, shardName, shardOfStream, streamHash } from "../../src/event-store/index.ts";
import { seededRandom } from "../../src/testing/seeded-random.ts";

/** The documented hash, written independently with BigInt arithmetic: FNV-1a over UTF-8, then fmix32. */
function documentedHash(stream: string): number {
  const modulo = 2n ** 32n;
  let hash = 0x811c9dc5n;
  for (const byte of new TextEncoder().encode(stream)) hash = ((hash ^ BigInt(byte)) * 0x01000193n) % modulo;
  hash ^= hash >> 16n;
  hash = (hash * 0x85ebca6bn) % modulo;
  hash ^= hash >> 13n;
  hash = (hash * 0xc2b2ae35n) % modulo;
  hash ^= hash >> 16n;
  return Number(hash);
}

const seeded = seededRandom(12);
const randomName = () => `account-${Math.floor(seeded() * 2 ** 52).toString(36)}`;
const NAMES = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? `account-acc-${i}` : randomName()));

describe("stream shards: the hash", () => {
  it("is pinned: these values may never change (events already placed in a shard stay there)", () => {
    expect(
      ["", "a", "account-1", "account-acc-42", "Überweisung-ß-日本", "🙂"].map((name) => [
        streamHash(name),
        shardOfStream(name, 4),
        shardOfStream(name, 16),
      ]),
    ).toEqual([
      [2_872_998_923, 3, 11],
      [444_641_715, 3, 3],
      [3_894_197_580, 0, 12],
      [2_274_467_118, 2, 14],
      [1_791_670_636, 0, 12],
      [1_074_728_266, 2, 10],
    ]);
  });

  it("is the documented function (FNV-1a over UTF-8, then MurmurHash3's finalizer), unsigned 32-bit", () => {
    for (const name of [...NAMES.slice(0, 1_000), "日本語のストリーム", "\u0000", "x".repeat(10_000)]) {
      expect(streamHash(name)).toBe(documentedHash(name));
    }
  });

  it("places a stream by its UTF-8 bytes: the same name in another normalization is another stream", () => {
    expect(streamHash("é")).not.toBe(streamHash("e\u0301"));
  });
});

describe("stream shards: the shard of a stream", () => {
  it.each([2, 4, 8, 16])("spreads 10,000 stream names about evenly over %i shards", (shards) => {
    const counts = new Array<number>(shards).fill(0);
    for (const name of NAMES) counts[shardOfStream(name, shards)] = (counts[shardOfStream(name, shards)] ?? 0) + 1;
    const mean = NAMES.length / shards;
    // Each count is binomial: its standard deviation is under 25 here, so ±12% of the mean is ≥ 3 of them.
    for (const count of counts) expect(Math.abs(count - mean) / mean).toBeLessThan(0.12);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(NAMES.length);
  });

  it("is the same on every call, within range, and 0 for one shard", () => {
    for (const name of NAMES.slice(0, 500)) {
      const shard = shardOfStream(name, 7);
      expect(shard).toBe(shardOfStream(name, 7));
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(7);
      expect(shardOfStream(name, 1)).toBe(0);
    }
  });

  it("refuses a shard count that is not an integer from 1 to the maximum, with a typed error", () => {
    for (const shards of [0, -1, 1.5, Number.NaN, MAX_STREAM_SHARDS + 1]) {
      expect(() => shardOfStream("s", shards)).toThrow(SdkClientError);
      expect(() => shardOfStream("s", shards)).toThrow(/shard count/);
    }
    expect(shardOfStream("s", MAX_STREAM_SHARDS)).toBeLessThan(MAX_STREAM_SHARDS);
  });
});

describe("stream shards: names", () => {
  it("keeps the plain name for one shard and puts the count in every other name", () => {
    expect(shardName({ name: "account" }, 0)).toBe("account");
    expect(shardName({ name: "account", shards: 1 }, 0)).toBe("account");
    expect(shardName({ name: "account", shards: 4 }, 3)).toBe("account/shard-3-of-4");
    expect(shardName({ name: "account", shards: 8 }, 3)).not.toBe(shardName({ name: "account", shards: 4 }, 3));
  });

  it("refuses a shard outside the layout", () => {
    expect(() => shardName({ name: "account", shards: 4 }, 4)).toThrow(SdkClientError);
    expect(() => shardName({ name: "account", shards: 4 }, -1)).toThrow(/does not exist/);
  });
});
