import { describe, expect, it } from "vitest";
import { SdkClientError } from "../../src/errors.ts";
import {
  createMemoryEventStore,
  type EventSource,
  type EventStore,
  type RecordedEvent,
} from "../../src/event-store/index.ts";
import {
  type CheckpointStore,
  checkpointConflict,
  createMemoryCheckpointStore,
  defineProjector,
  MissedEventError,
  type ProjectorLogEntry,
  type ProjectorOptions,
} from "../../src/projector/index.ts";
import { projectorSpec } from "../../src/testing/projector-spec.ts";
import { VirtualClock } from "../../src/testing/virtual-clock.ts";

// random() = 0.5 makes the jitter floor(0.5 * 101) = 50 ms, so the first re-read comes after 100 + 50.
const DELAY = 150;

/** A projector over a memory store, recording what it handled and logged. */
function world(overrides: Partial<ProjectorOptions> = {}) {
  const clock = new VirtualClock();
  const store = createMemoryEventStore({ clock });
  const checkpoints = createMemoryCheckpointStore();
  const applied: number[] = [];
  const logs: ProjectorLogEntry[] = [];
  const projector = defineProjector({
    name: "test",
    source: store,
    checkpoints,
    clock,
    random: () => 0.5,
    handle: (event) => void applied.push(event.position),
    onLog: (entry) => void logs.push(entry),
    ...overrides,
  });
  const kinds = (kind: ProjectorLogEntry["kind"]) => logs.filter((entry) => entry.kind === kind);
  return { clock, store, checkpoints, applied, logs, kinds, projector };
}

/** The store as a source with no subscription, counting reads (the positions read after). */
function quiet(store: EventStore): EventSource & { reads: number[] } {
  const reads: number[] = [];
  return {
    reads,
    readAll: (options) => {
      reads.push(options?.after ?? 0);
      return store.readAll(options);
    },
    lastPosition: () => store.lastPosition(),
  };
}

async function append(store: EventStore, count: number, stream = "s"): Promise<void> {
  for (let i = 0; i < count; i++) await store.append(stream, [{ type: "Added", n: i }]);
}

async function recorded(store: EventStore, ...positions: number[]): Promise<RecordedEvent[]> {
  const log = await store.readAll({ limit: 10_000 });
  return positions.map((position) => log[position - 1] as RecordedEvent);
}

describe("projector: ordering", () => {
  it("applies events in position order as the store publishes them, and stores the checkpoint", async () => {
    const { clock, store, checkpoints, applied, projector } = world({ dependentHydration: true });
    await projector.start();
    await store.append("a", [{ type: "Added" }, { type: "Added" }]);
    await store.append("b", [{ type: "Added" }]);
    await clock.advance(0);
    expect(applied).toEqual([1, 2, 3]);
    expect(projector.position()).toBe(3);
    expect(await checkpoints.load("test")).toBe(3);
    expect(projector.status).toBe("live");
    expect(clock.pendingTimers).toBe(0);
  });

  it("autonomous start resolves at once and catches up from the stored checkpoint after the delay with jitter", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 5);
    const source = quiet(store);
    const { applied, checkpoints, projector } = world({ source, clock, batchSize: 2 });
    await checkpoints.commit("test", { expected: 0, next: 2 }, () => {});
    await projector.start();
    expect([projector.position(), projector.status, applied]).toEqual([2, "catching_up", []]);
    await clock.advance(DELAY - 1);
    expect(applied).toEqual([]);
    await clock.advance(1);
    expect(applied).toEqual([3, 4, 5]);
    expect(source.reads).toEqual([2, 4]);
    expect([projector.position(), projector.status, clock.pendingTimers]).toEqual([5, "live", 0]);
  });

  it("dependent hydration: start resolves only once caught up, without waiting for the delay", async () => {
    const { clock, store, applied, projector } = world({ dependentHydration: true });
    await append(store, 3);
    await projector.start();
    expect(applied).toEqual([1, 2, 3]);
    expect([projector.position(), projector.status, clock.pendingTimers]).toEqual([3, "live", 0]);
  });

  it("skips and logs events at or below the checkpoint", async () => {
    const { clock, store, applied, kinds, projector } = world({ dependentHydration: true });
    await append(store, 3);
    await projector.start();
    projector.push(await recorded(store, 1, 2, 3));
    projector.push(await recorded(store, 2));
    await clock.advance(0);
    expect(applied).toEqual([1, 2, 3]);
    expect(kinds("already_processed").map((e) => [e.position, e.level, e.checkpoint])).toEqual([
      [1, "debug", 3],
      [2, "debug", 3],
      [3, "debug", 3],
      [2, "debug", 3],
    ]);
  });

  it("a gap schedules exactly one re-read after the delay with jitter, which applies the missing events in order", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 2);
    const source = quiet(store);
    const { applied, kinds, projector } = world({ source, clock, dependentHydration: true });
    await projector.start();
    await append(store, 4);
    const [five, six] = await recorded(store, 5, 6);
    projector.push([five as RecordedEvent]);
    projector.push([six as RecordedEvent]);
    await clock.advance(0);
    expect(clock.pendingTimers).toBe(1);
    expect(kinds("missed_event").map((e) => [e.position, e.level, e.retryInMs])).toEqual([[5, "warn", DELAY]]);
    expect(projector.status).toBe("catching_up");
    await clock.advance(DELAY - 1);
    expect(applied).toEqual([1, 2]);
    expect(source.reads).toEqual([0]);
    await clock.advance(1);
    expect(applied).toEqual([1, 2, 3, 4, 5, 6]);
    expect(source.reads).toEqual([0, 2]);
    expect([projector.position(), projector.status, clock.pendingTimers]).toEqual([6, "live", 0]);
  });

  it("never applies out-of-order pushes out of order", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 2);
    const { applied, projector } = world({ source: quiet(store), clock, dependentHydration: true });
    await projector.start();
    await append(store, 5);
    const [three, four, five, six, seven] = (await recorded(store, 3, 4, 5, 6, 7)) as [
      RecordedEvent,
      RecordedEvent,
      RecordedEvent,
      RecordedEvent,
      RecordedEvent,
    ];
    projector.push([five]);
    projector.push([four]);
    projector.push([three]);
    await clock.advance(0);
    expect(applied).toEqual([1, 2, 3]);
    projector.push([seven, four, six]); // one batch, unsorted: 4 is next, 6 is past a gap
    await clock.advance(0);
    expect(applied).toEqual([1, 2, 3, 4]);
    await clock.advance(DELAY);
    expect(applied).toEqual([1, 2, 3, 4, 5, 6, 7]);
    projector.push([six, seven, five]);
    await clock.advance(0);
    expect(applied).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("sorts one pushed batch by position", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    const { applied, projector } = world({ source: quiet(store), clock, dependentHydration: true });
    await projector.start();
    await append(store, 3);
    projector.push((await recorded(store, 3, 1, 2)) as RecordedEvent[]);
    await clock.advance(0);
    expect([applied, clock.pendingTimers]).toEqual([[1, 2, 3], 0]);
  });

  it("never runs handle concurrently, with an async handler and overlapping pushes and recoveries", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    let running = 0;
    let mostAtOnce = 0;
    const applied: number[] = [];
    const positions = new Map<string, number>();
    // No lock of its own (unlike the memory store), so only the projector keeps `handle` calls apart.
    const checkpoints: CheckpointStore = {
      load: async (name) => positions.get(name) ?? 0,
      commit: async (name, move, apply) => {
        const refused = checkpointConflict(move, positions.get(name) ?? 0);
        if (refused) return refused;
        await apply(undefined);
        positions.set(name, move.next);
        return { ok: true };
      },
      reset: async (name) => void positions.delete(name),
    };
    const projector = defineProjector({
      name: "slow",
      source: store,
      checkpoints,
      clock,
      random: () => 0.5,
      handle: async (event) => {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        for (let i = 0; i < 5; i++) await Promise.resolve();
        applied.push(event.position);
        running--;
      },
    });
    await projector.start(); // autonomous: its first read is still pending while events are published
    for (let i = 0; i < 20; i++) void store.append(`s-${i % 3}`, [{ type: "Added" }, { type: "Added" }]);
    const again = await recorded(store, 1, 2, 3, 30, 12);
    projector.push(again); // a bus redelivering while the first delivery is still being handled
    projector.push(again);
    await clock.advance(DELAY);
    expect(applied).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(mostAtOnce).toBe(1);
  });

  it("a catch-up cancels the re-read a gap asked for before it", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 2);
    const source = quiet(store);
    const { applied, projector } = world({ source, clock, dependentHydration: true });
    await projector.start();
    await append(store, 3);
    projector.push(await recorded(store, 5));
    await clock.advance(0);
    expect(clock.pendingTimers).toBe(1);
    await projector.rebuild();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(DELAY);
    expect([applied, source.reads]).toEqual([
      [1, 2, 1, 2, 3, 4, 5],
      [0, 0],
    ]);
  });
});

describe("projector: waitFor", () => {
  it("resolves true once the checkpoint reaches the position", async () => {
    const { clock, store, projector } = world({ dependentHydration: true });
    await projector.start();
    expect(await projector.waitFor(0, 10)).toBe(true);
    const waiting = projector.waitFor(2, 1_000);
    await append(store, 2);
    await clock.advance(0);
    expect(await waiting).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it("resolves false on timeout, and neither reads, applies nor rolls back anything", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 2);
    const source = quiet(store);
    const { applied, checkpoints, projector } = world({ source, clock, dependentHydration: true });
    await projector.start();
    await append(store, 1);
    let result: boolean | undefined;
    void projector.waitFor(3, 500).then((reached) => {
      result = reached;
    });
    await clock.advance(499);
    expect(result).toBeUndefined();
    await clock.advance(1);
    expect(result).toBe(false);
    expect([applied, projector.position(), await checkpoints.load("test"), source.reads]).toEqual([[1, 2], 2, 2, [0]]);
    expect([projector.status, clock.pendingTimers]).toEqual(["live", 0]);
  });

  it("resolves false when stopped, and at once on a stopped projector", async () => {
    const { clock, projector } = world({ dependentHydration: true });
    await projector.start();
    const waiting = projector.waitFor(5, 1_000);
    projector.stop();
    expect(await waiting).toBe(false);
    expect(await projector.waitFor(5, 1_000)).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("projector: rebuild", () => {
  it("truncates the read model and resets the checkpoint in one reset, then replays up to the last position", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 2, "a");
    await append(store, 2, "b");
    const memory = createMemoryCheckpointStore();
    let resets = 0;
    let truncatedInsideReset = false;
    let insideReset = false;
    const checkpoints: CheckpointStore = {
      ...memory,
      reset: async (name, apply) => {
        resets++;
        await memory.reset(name, async (tx) => {
          insideReset = true;
          await apply?.(tx);
          insideReset = false;
        });
      },
    };
    const totals = new Map<string, number>();
    const projector = defineProjector({
      name: "totals",
      source: store,
      checkpoints,
      clock,
      dependentHydration: true,
      handle: (event) => void totals.set(event.stream, (totals.get(event.stream) ?? 0) + 1),
      truncate: () => {
        truncatedInsideReset = insideReset;
        totals.clear();
      },
    });
    await projector.start();
    totals.set("junk", 99);
    await projector.rebuild();
    expect(Object.fromEntries(totals)).toEqual({ a: 2, b: 2 });
    expect([resets, truncatedInsideReset]).toEqual([1, true]);
    expect([projector.position(), await checkpoints.load("totals"), projector.status]).toEqual([4, 4, "live"]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("on a stopped projector only resets: the next start replays", async () => {
    const { store, applied, checkpoints, projector } = world({ dependentHydration: true });
    await append(store, 2);
    await projector.start();
    projector.stop();
    await projector.rebuild();
    expect([applied, await checkpoints.load("test")]).toEqual([[1, 2], 0]);
    await projector.start();
    expect(applied).toEqual([1, 2, 1, 2]);
  });
});

describe("projector: failures", () => {
  it("a failing handler does not advance the checkpoint, is logged and retried with backoff, and is never skipped", async () => {
    let failuresLeft = 2;
    const attempts: number[] = [];
    const { clock, store, applied, kinds, checkpoints, projector } = world({
      handle: (event) => {
        attempts.push(event.position);
        if (event.position === 2 && failuresLeft-- > 0) throw new Error("boom");
        applied.push(event.position);
      },
    });
    await append(store, 3);
    await projector.start();
    await clock.advance(DELAY);
    expect([applied, projector.position(), await checkpoints.load("test")]).toEqual([[1], 1, 1]);
    expect(projector.status).toBe("retrying");
    expect((projector.lastError as Error).message).toBe("boom");
    await append(store, 1); // published while retrying: the re-read picks it up
    projector.push(await recorded(store, 2)); // a redelivery does not jump the backoff
    await clock.advance(DELAY - 1);
    expect(attempts).toEqual([1, 2]);
    await clock.advance(1);
    expect(attempts).toEqual([1, 2, 2]);
    await clock.advance(249); // the second retry waits twice as long: 200 + 50
    expect(attempts).toEqual([1, 2, 2]);
    await clock.advance(1);
    expect(attempts).toEqual([1, 2, 2, 2, 3, 4]);
    expect(applied).toEqual([1, 2, 3, 4]);
    expect(kinds("handler_failed").map((e) => [e.position, e.type, e.attempt, e.retryInMs, e.level])).toEqual([
      [2, "Added", 1, 150, "error"],
      [2, "Added", 2, 250, "error"],
    ]);
    expect([projector.status, projector.lastError, projector.position(), clock.pendingTimers]).toEqual([
      "live",
      undefined,
      4,
      0,
    ]);
  });

  it("dependent hydration rejects start when catching up fails and leaves the projector stopped", async () => {
    const boom = new Error("boom");
    const { clock, store, projector } = world({
      dependentHydration: true,
      handle: (event) => {
        if (event.position === 2) throw boom;
      },
    });
    await append(store, 3);
    await expect(projector.start()).rejects.toBe(boom);
    expect([projector.status, projector.lastError, projector.position(), clock.pendingTimers]).toEqual([
      "stopped",
      boom,
      1,
      0,
    ]);
  });

  it("a failing read is logged and retried", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 2);
    let failuresLeft = 1;
    const source: EventSource = {
      readAll: (options) => (failuresLeft-- > 0 ? Promise.reject(new Error("offline")) : store.readAll(options)),
      lastPosition: () => store.lastPosition(),
    };
    const { applied, kinds, projector } = world({ source, clock });
    await projector.start();
    await clock.advance(DELAY);
    expect([projector.status, (projector.lastError as Error).message]).toEqual(["retrying", "offline"]);
    expect(kinds("read_failed").map((e) => [e.position, e.attempt, e.retryInMs])).toEqual([[0, 1, DELAY]]);
    await clock.advance(DELAY);
    expect([applied, projector.status]).toEqual([[1, 2], "live"]);
  });

  it("a gap in the source's own log is a MissedEventError, retried until the log is whole", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 3);
    let hide = true; // as a read racing an uncommitted transaction would: 2 is not visible yet
    const source: EventSource = {
      readAll: async (options) => (await store.readAll(options)).filter((e) => !(hide && e.position === 2)),
      lastPosition: () => store.lastPosition(),
    };
    const { applied, kinds, projector } = world({ source, clock });
    await projector.start();
    await clock.advance(DELAY);
    expect(applied).toEqual([1]);
    expect(projector.lastError).toBeInstanceOf(MissedEventError);
    expect(projector.lastError).toMatchObject({ position: 3, expected: 2 });
    expect(kinds("missed_event").map((e) => [e.position, e.level])).toEqual([[3, "error"]]);
    hide = false;
    await clock.advance(DELAY);
    expect([applied, projector.status]).toEqual([[1, 2, 3], "live"]);
  });

  it("a throwing log hook does not stop the projection", async () => {
    const { clock, store, applied, projector } = world({
      dependentHydration: true,
      onLog: () => {
        throw new Error("logger down");
      },
    });
    await append(store, 2);
    await projector.start();
    projector.push(await recorded(store, 1));
    await append(store, 1);
    await clock.advance(0);
    expect(applied).toEqual([1, 2, 3]);
  });
});

describe("projector: checkpoints", () => {
  it("reports each unhandled type once and still advances, folding skipped events into the next commit", async () => {
    const memory = createMemoryCheckpointStore();
    const moves: Array<[number, number]> = [];
    const checkpoints: CheckpointStore = {
      ...memory,
      commit: (name, move, apply) => {
        moves.push([move.expected, move.next]);
        return memory.commit(name, move, apply);
      },
    };
    const { store, applied, kinds, projector } = world({ checkpoints, handles: ["Added"], dependentHydration: true });
    for (const type of ["Added", "Noise", "Noise", "Other", "Added", "Noise"]) await store.append("s", [{ type }]);
    await projector.start();
    expect(applied).toEqual([1, 5]);
    expect([projector.position(), await checkpoints.load("test")]).toEqual([6, 6]);
    expect(moves).toEqual([
      [0, 1],
      [1, 5],
      [5, 6],
    ]);
    expect(kinds("unhandled_type").map((e) => [e.type, e.position, e.level])).toEqual([
      ["Noise", 2, "warn"],
      ["Other", 4, "warn"],
    ]);
  });

  it("moves the read model and the checkpoint together: a write that fails leaves both unchanged", async () => {
    const model = new Map<string, number>();
    const positions = new Map<string, number>();
    // A store with a transaction, as IndexedDB's: `apply` writes a draft that commits with the checkpoint.
    const checkpoints: CheckpointStore<Map<string, number>> = {
      load: async (name) => positions.get(name) ?? 0,
      commit: async (name, move, apply) => {
        const refused = checkpointConflict(move, positions.get(name) ?? 0);
        if (refused) return refused;
        const draft = new Map(model);
        await apply(draft);
        model.clear();
        for (const [key, value] of draft) model.set(key, value);
        positions.set(name, move.next);
        return { ok: true };
      },
      reset: async (name, apply) => {
        const draft = new Map(model);
        await apply?.(draft);
        model.clear();
        for (const [key, value] of draft) model.set(key, value);
        positions.delete(name);
      },
    };
    let broken = true;
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 3);
    const projector = defineProjector({
      name: "counts",
      source: store,
      checkpoints,
      clock,
      random: () => 0.5,
      handle: (event, tx) => {
        tx.set(event.stream, (tx.get(event.stream) ?? 0) + 1);
        if (event.position === 2 && broken) throw new Error("fails after writing");
      },
      truncate: (tx) => tx.clear(),
    });
    await projector.start();
    await clock.advance(DELAY);
    expect([Object.fromEntries(model), await checkpoints.load("counts")]).toEqual([{ s: 1 }, 1]);
    broken = false;
    await clock.advance(DELAY);
    expect([Object.fromEntries(model), await checkpoints.load("counts")]).toEqual([{ s: 3 }, 3]);
    await projector.rebuild();
    expect([Object.fromEntries(model), await checkpoints.load("counts")]).toEqual([{ s: 3 }, 3]);
    projector.stop();
  });

  it("continues from a checkpoint another instance moved, without applying its events again", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 2);
    const { applied, checkpoints, kinds, projector } = world({ source: quiet(store), clock, dependentHydration: true });
    await projector.start();
    await append(store, 3);
    await checkpoints.commit("test", { expected: 2, next: 4 }, () => {}); // the other instance did 3 and 4
    projector.push(await recorded(store, 3));
    await clock.advance(0);
    expect([applied, projector.position()]).toEqual([[1, 2], 4]);
    expect(kinds("checkpoint_mismatch").map((e) => [e.position, e.checkpoint])).toEqual([[4, 4]]);
    await clock.advance(DELAY);
    expect([applied, projector.position()]).toEqual([[1, 2, 5], 5]);
  });
});

describe("projector: lifecycle", () => {
  it("stop() cancels every timer and the subscription; start() resumes from the checkpoint", async () => {
    const { clock, store, applied, projector } = world();
    await append(store, 2);
    await projector.start();
    const waiting = projector.waitFor(2, 10_000);
    expect(clock.pendingTimers).toBe(2);
    projector.stop();
    expect([clock.pendingTimers, projector.status, await waiting]).toEqual([0, "stopped", false]);
    await append(store, 1);
    projector.push(await recorded(store, 1));
    await clock.advance(10_000);
    expect(applied).toEqual([]);
    await projector.start();
    await clock.advance(DELAY);
    expect([applied, projector.status]).toEqual([[1, 2, 3], "live"]);
    await append(store, 1);
    await clock.advance(0);
    expect(applied).toEqual([1, 2, 3, 4]);
    projector.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it("stop() during a dependent start ends it quietly after the event in flight", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    await append(store, 3);
    const applied: number[] = [];
    const projector = defineProjector({
      name: "stopper",
      source: store,
      checkpoints: createMemoryCheckpointStore(),
      clock,
      dependentHydration: true,
      handle: (event) => {
        applied.push(event.position);
        if (event.position === 2) projector.stop();
      },
    });
    await projector.start();
    expect([applied, projector.position(), projector.status, clock.pendingTimers]).toEqual([[1, 2], 2, "stopped", 0]);
  });

  it("polls a source without subscribe when pollIntervalMs is set", async () => {
    const clock = new VirtualClock();
    const store = createMemoryEventStore({ clock });
    const { applied, projector } = world({
      source: quiet(store),
      clock,
      dependentHydration: true,
      pollIntervalMs: 1_000,
    });
    await projector.start();
    await append(store, 2);
    await clock.advance(999);
    expect(applied).toEqual([]);
    await clock.advance(1);
    expect(applied).toEqual([1, 2]);
    expect(clock.pendingTimers).toBe(1);
    projector.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it("rejects invalid options", () => {
    const store = createMemoryEventStore();
    const base = { source: store, checkpoints: createMemoryCheckpointStore(), handle: () => {} };
    expect(() => defineProjector({ ...base, name: "" })).toThrow(SdkClientError);
    expect(() => defineProjector({ ...base, name: "p", batchSize: 0 })).toThrow(/batchSize/);
    expect(() => defineProjector({ ...base, name: "p", recoveryDelayMs: -1 })).toThrow(/recoveryDelayMs/);
    expect(() => defineProjector({ ...base, name: "p", pollIntervalMs: Number.POSITIVE_INFINITY })).toThrow(
      /pollIntervalMs/,
    );
  });
});

describe("projectorSpec", () => {
  const deposits = [
    { stream: "acc-1", data: { type: "Deposited", amount: 5 } },
    { stream: "acc-2", data: { type: "Deposited", amount: 7 } },
    { stream: "acc-1", data: { type: "Renamed", name: "Ada" } },
    { stream: "acc-1", data: { type: "Deposited", amount: 3 } },
  ];
  const amountOf = (event: RecordedEvent) => (event.data as { amount: number }).amount;

  it("passes a projection that dedupes by stream version, and returns its read model", async () => {
    const model = await projectorSpec({
      events: deposits,
      setup: () => {
        const balances = new Map<string, { balance: number; version: number }>();
        return {
          handles: ["Deposited"],
          handle: (event) => {
            const row = balances.get(event.stream) ?? { balance: 0, version: -1 };
            if (event.version <= row.version) return;
            balances.set(event.stream, { balance: row.balance + amountOf(event), version: event.version });
          },
          readModel: () => balances,
        };
      },
      numberOfTimes: 4,
    });
    expect(Object.fromEntries(model)).toEqual({
      "acc-1": { balance: 8, version: 2 },
      "acc-2": { balance: 7, version: 0 },
    });
  });

  it("fails a projection that adds on every delivery, naming the scenario", async () => {
    const spec = projectorSpec({
      events: deposits,
      setup: () => {
        const balances = new Map<string, number>();
        return {
          handles: ["Deposited"],
          handle: (event) => void balances.set(event.stream, (balances.get(event.stream) ?? 0) + amountOf(event)),
          readModel: () => balances,
        };
      },
    });
    await expect(spec).rejects.toThrow(/each event 3 times in a row: the read model differs/);
  });

  it("fails a projection that only ignores back-to-back duplicates on the whole-log replay", async () => {
    const spec = projectorSpec({
      events: deposits,
      setup: () => {
        let total = 0;
        let last = 0;
        return {
          handles: ["Deposited"],
          handle: (event) => {
            if (event.position !== last) total += amountOf(event);
            last = event.position;
          },
          readModel: () => ({ total }),
        };
      },
    });
    await expect(spec).rejects.toThrow(/the whole log 3 times/);
  });

  it("fails when the single-delivery read model is not the expected one", async () => {
    const spec = projectorSpec({
      events: deposits,
      setup: () => ({ handle: () => {}, readModel: () => ({ count: 0 }) }),
      expected: { count: 1 },
    });
    await expect(spec).rejects.toThrow(/not the expected one/);
  });
});
