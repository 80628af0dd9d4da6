// A projector over a sharded log: one core projector and one checkpoint per shard, one read model, every
// event once and each stream in its order (a stream lives in one shard).
import { describe, expect, it } from "vitest";
import { SdkClientError } from "../../src/errors.ts";
import {
  createMemoryEventStore,
  type EventStore,
  type RecordedEvent,
  shardName,
  shardOfStream,
} from "../../src/event-store/index.ts";
import {
  type CheckpointStore,
  createMemoryCheckpointStore,
  defineShardedProjector,
  type ShardedProjectorOptions,
} from "../../src/projector/index.ts";
import { VirtualClock } from "../../src/testing/virtual-clock.ts";

/** `shards` memory stores as the shards of one log, and a sharded projector recording what it handled. */
function world(shards: number, overrides: Partial<ShardedProjectorOptions> = {}) {
  const clock = new VirtualClock();
  const stores: EventStore[] = Array.from({ length: shards }, () => createMemoryEventStore({ clock }));
  const checkpoints = createMemoryCheckpointStore();
  const handled: RecordedEvent[] = [];
  const projector = defineShardedProjector({
    name: "balances",
    sources: stores,
    checkpoints,
    clock,
    random: () => 0.5,
    handle: (event) => void handled.push(event),
    ...overrides,
  });
  /** Appends to the stream's own shard, as the shard router does. */
  const append = (stream: string, count: number) =>
    (stores[shardOfStream(stream, shards)] as EventStore).append(
      stream,
      Array.from({ length: count }, (_, n) => ({ type: "Deposited", n })),
    );
  const lastPositions = () => Promise.all(stores.map((store) => store.lastPosition()));
  return { clock, stores, checkpoints, handled, projector, append, lastPositions };
}

/** Each stream's versions in the order they were handled. */
function versionsByStream(events: readonly RecordedEvent[]): Map<string, number[]> {
  const byStream = new Map<string, number[]>();
  for (const event of events) byStream.set(event.stream, [...(byStream.get(event.stream) ?? []), event.version]);
  return byStream;
}

describe("sharded projector: reading", () => {
  it("handles every event of every shard once, each stream in version order, one stored checkpoint per shard", async () => {
    const { handled, projector, append, checkpoints, lastPositions } = world(4, { dependentHydration: true });
    const streams = Array.from({ length: 200 }, (_, i) => `account-${i}`);
    for (let round = 0; round < 5; round++) for (const stream of streams) await append(stream, 1);
    await projector.start();
    expect(handled).toHaveLength(1_000);
    const byStream = versionsByStream(handled);
    expect(byStream.size).toBe(200);
    for (const versions of byStream.values()) expect(versions).toEqual([0, 1, 2, 3, 4]);
    const last = await lastPositions();
    expect(last.every((position) => position > 100)).toBe(true); // every shard got a share
    expect(projector.positions()).toEqual(last);
    const stored = await Promise.all(
      last.map((_, i) => checkpoints.load(shardName({ name: "balances", shards: 4 }, i))),
    );
    expect(stored).toEqual(last);
    expect(await checkpoints.load("balances")).toBe(0);
    expect(projector.status).toBe("live");
    projector.stop();
  });

  it("with one shard it keeps the plain name, so a projector that was not sharded keeps its checkpoint", async () => {
    const { projector, append, checkpoints, handled } = world(1, { dependentHydration: true });
    await checkpoints.commit("balances", { expected: 0, next: 2 }, () => {});
    await append("account-1", 3);
    await projector.start();
    expect(handled.map((event) => event.position)).toEqual([3]);
    expect(await checkpoints.load("balances")).toBe(3);
    projector.stop();
  });

  it("follows new events per shard through each source's subscription", async () => {
    const { clock, projector, append, handled, lastPositions } = world(3, { dependentHydration: true });
    await projector.start();
    for (let i = 0; i < 30; i++) await append(`account-${i}`, 2);
    await clock.advance(0);
    expect(handled).toHaveLength(60);
    expect(await projector.waitFor(await lastPositions(), 0)).toBe(true);
    projector.stop();
  });

  it("never runs handle twice at once, across shards too", async () => {
    let running = 0;
    let most = 0;
    const { projector, append, handled } = world(4, {
      dependentHydration: true,
      handle: async (event) => {
        running++;
        most = Math.max(most, running);
        for (let i = 0; i < 5; i++) await Promise.resolve();
        running--;
        handled.push(event);
      },
    });
    for (let i = 0; i < 40; i++) await append(`account-${i}`, 2);
    await projector.start(); // every shard catches up at once
    expect(handled).toHaveLength(80);
    expect(most).toBe(1);
    projector.stop();
  });
});

describe("sharded projector: failures", () => {
  it("a failing handle holds back only its own shard, and is retried, never skipped", async () => {
    let failuresLeft = 3;
    const poisoned = "account-7";
    const { clock, projector, append, handled, lastPositions, stores } = world(4, {
      handle: (event) => {
        if (event.stream === poisoned && failuresLeft-- > 0) throw new Error("read model unavailable");
        handled.push(event);
      },
    });
    for (let i = 0; i < 40; i++) await append(`account-${i}`, 3);
    const stuck = shardOfStream(poisoned, 4);
    await projector.start();
    await clock.advance(160);
    const last = await lastPositions();
    const positions = projector.positions();
    for (const [shard, position] of positions.entries()) {
      if (shard === stuck) expect(position).toBeLessThan(last[shard] ?? 0);
      else expect(position).toBe(last[shard]);
    }
    expect(projector.status).toBe("retrying");
    expect(projector.lastError).toBeInstanceOf(Error);
    await clock.advance(10_000);
    expect(projector.positions()).toEqual(last);
    expect(handled).toHaveLength(120);
    expect(versionsByStream(handled).get(poisoned)).toEqual([0, 1, 2]);
    expect(stores).toHaveLength(4);
    projector.stop();
  });

  it("waitFor is true once every shard reached its position, false on timeout", async () => {
    const { clock, projector, append } = world(2, { dependentHydration: true });
    const streamIn = (shard: number) =>
      Array.from({ length: 100 }, (_, i) => `s-${i}`).find((stream) => shardOfStream(stream, 2) === shard) as string;
    await projector.start();
    let reached: boolean | undefined;
    const waiting = projector.waitFor([1, 1], 500).then((value) => {
      reached = value;
    });
    await append(streamIn(0), 1);
    await clock.advance(0);
    expect([projector.positions(), reached]).toEqual([[1, 0], undefined]);
    await append(streamIn(1), 1);
    await clock.advance(0);
    await waiting;
    expect(reached).toBe(true);
    const never = projector.waitFor([1, 2], 500);
    await clock.advance(500);
    expect(await never).toBe(false);
    projector.stop();
  });

  it("start rejects and leaves every shard stopped when one shard cannot be read", async () => {
    const clock = new VirtualClock();
    const good = createMemoryEventStore({ clock });
    const broken = { readAll: () => Promise.reject(new Error("shard down")), lastPosition: async () => 0 };
    const projector = defineShardedProjector({
      name: "p",
      sources: [good, broken],
      checkpoints: createMemoryCheckpointStore(),
      clock,
      handle: () => {},
      dependentHydration: true,
    });
    await expect(projector.start()).rejects.toThrow("shard down");
    expect(projector.status).toBe("stopped");
  });

  it("refuses no sources or more than the maximum of shards, with a typed error", () => {
    const make = (sources: ShardedProjectorOptions["sources"]) =>
      defineShardedProjector({ name: "p", sources, checkpoints: createMemoryCheckpointStore(), handle: () => {} });
    expect(() => make([])).toThrow(SdkClientError);
    const one = createMemoryEventStore();
    expect(() => make(Array.from({ length: 1_025 }, () => one))).toThrow(/shard count/);
  });
});

describe("sharded projector: rebuild", () => {
  it("truncates once, resets every shard's checkpoint with it and re-projects everything", async () => {
    const totals = new Map<string, number>();
    let truncations = 0;
    const { clock, projector, append, checkpoints, lastPositions } = world(3, {
      dependentHydration: true,
      handle: (event) => void totals.set(event.stream, (totals.get(event.stream) ?? 0) + 1),
      truncate: () => {
        truncations++;
        totals.clear();
      },
    });
    for (let i = 0; i < 30; i++) await append(`account-${i}`, 2);
    await projector.start();
    const before = new Map(totals);
    const resets: string[][] = [];
    const resetMany = checkpoints.resetMany?.bind(checkpoints);
    checkpoints.resetMany = async (names, apply) => {
      resets.push([...names]);
      return resetMany?.(names, apply);
    };
    await projector.rebuild();
    await clock.advance(0);
    expect(truncations).toBe(1);
    expect(resets).toEqual([[0, 1, 2].map((shard) => shardName({ name: "balances", shards: 3 }, shard))]);
    expect(totals).toEqual(before);
    expect(projector.positions()).toEqual(await lastPositions());
    projector.stop();
  });

  it("a truncate that throws moves no checkpoint and keeps the read model", async () => {
    const totals = new Map<string, number>();
    const { projector, append, checkpoints, lastPositions } = world(2, {
      dependentHydration: true,
      handle: (event) => void totals.set(event.stream, (totals.get(event.stream) ?? 0) + 1),
      truncate: () => {
        throw new Error("cannot truncate");
      },
    });
    for (let i = 0; i < 10; i++) await append(`account-${i}`, 1);
    await projector.start();
    await expect(projector.rebuild()).rejects.toThrow("cannot truncate");
    const names = [0, 1].map((shard) => shardName({ name: "balances", shards: 2 }, shard));
    expect(await Promise.all(names.map((name) => checkpoints.load(name)))).toEqual(await lastPositions());
    expect([...totals.values()].reduce((a, b) => a + b, 0)).toBe(10);
    projector.stop();
  });

  it("on a store without resetMany, rebuilding several shards is refused with a typed error and resets nothing", async () => {
    const memory = createMemoryCheckpointStore();
    const withoutResetMany: CheckpointStore = {
      load: (name) => memory.load(name),
      commit: (name, move, apply) => memory.commit(name, move, apply),
      reset: (name, apply) => memory.reset(name, apply),
    };
    let truncations = 0;
    const { projector, append, lastPositions } = world(2, {
      checkpoints: withoutResetMany,
      dependentHydration: true,
      truncate: () => void truncations++,
    });
    for (let i = 0; i < 10; i++) await append(`account-${i}`, 1);
    await projector.start();
    const error = await projector.rebuild().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SdkClientError);
    expect((error as SdkClientError).code).toBe("INVALID_OPTIONS");
    expect(truncations).toBe(0);
    const names = [0, 1].map((shard) => shardName({ name: "balances", shards: 2 }, shard));
    expect(await Promise.all(names.map((name) => memory.load(name)))).toEqual(await lastPositions());
    projector.stop();
  });
});
