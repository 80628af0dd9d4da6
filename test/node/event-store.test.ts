import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cloneData } from "../../src/event-store/clone-data.ts";
import { createMemoryEventStore } from "../../src/event-store/index.ts";
import { eventStoreContract } from "../../src/testing/index.ts";

describe("event store contract: memory", () => {
  for (const contractCase of eventStoreContract(() => createMemoryEventStore())) {
    it(contractCase.name, () => contractCase.run());
  }
});

describe("memory event store, property-based", () => {
  it("random interleavings of appends from several writers: contiguous versions, nothing lost, conflicts reported", async () => {
    const writer = fc.record({
      stream: fc.constantFrom("a", "b", "c"),
      events: fc.integer({ min: 0, max: 3 }),
      expect: fc.oneof(
        fc.constant<"read">("read"),
        fc.constant<"any">("any"),
        fc.constant<"no_stream">("no_stream"),
        fc.integer({ min: -1, max: 6 }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(writer, { minLength: 1, maxLength: 5 }), { maxLength: 12 }),
        async (rounds) => {
          const store = createMemoryEventStore();
          let accepted = 0;
          for (const round of rounds) {
            const expected = await Promise.all(
              round.map(async (w) => (w.expect === "read" ? store.version(w.stream) : w.expect)),
            );
            const before = await Promise.all(round.map((w) => store.version(w.stream)));
            const results = await Promise.all(
              round.map((w, i) =>
                store.append(
                  w.stream,
                  Array.from({ length: w.events }, () => ({ type: "E" })),
                  {
                    expectedVersion: expected[i] as number | "any" | "no_stream",
                  },
                ),
              ),
            );
            results.forEach((result, i) => {
              if (result.ok) accepted += round[i]?.events ?? 0;
              else {
                expect(result.error.code).toBe("wrong_expected_version");
                expect(result.error.actual).toBeGreaterThanOrEqual(before[i] as number);
              }
            });
          }
          let stored = 0;
          for (const stream of ["a", "b", "c"]) {
            const events = await store.read(stream, { limit: 10_000 });
            expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i));
            stored += events.length;
          }
          expect(stored).toBe(accepted);
          const log = await store.readAll({ limit: 10_000 });
          expect(log.map((e) => e.position)).toEqual(log.map((_, i) => i + 1));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("memory event store: review regressions", () => {
  it("a throwing subscriber does not fail an append that succeeded, nor starve other subscribers", async () => {
    const store = createMemoryEventStore();
    const heard: number[] = [];
    store.subscribe?.(() => {
      throw new Error("listener bug");
    });
    store.subscribe?.((events) => heard.push(...events.map((e) => e.position)));
    expect((await store.append("s", [{ type: "A" }])).ok).toBe(true);
    expect(heard).toEqual([1]);
  });

  it("metadata is copied with the events: an uncloneable value fails the append cleanly, later changes do not leak in", async () => {
    const store = createMemoryEventStore();
    await expect(store.append("s", [{ type: "A" }], { metadata: { format: () => "x" } })).rejects.toThrow();
    expect(await store.readAll()).toEqual([]);
    const metadata = { nested: { tag: "one" } };
    await store.append("s", [{ type: "A" }], { metadata });
    metadata.nested.tag = "changed";
    expect((await store.read("s"))[0]?.metadata).toEqual({ nested: { tag: "one" } });
  });
});

describe("memory event store copies (cloneData)", () => {
  it("copies plain data deeply, like structuredClone", () => {
    const value = { type: "A", n: 1, nested: { list: [1, { x: null }], flag: true, none: undefined }, big: 10n };
    const copy = cloneData(value);
    expect(copy).toEqual(structuredClone(value));
    expect(copy).not.toBe(value);
    expect(copy.nested).not.toBe(value.nested);
    expect(copy.nested.list[1]).not.toBe(value.nested.list[1]);
    expect(Object.hasOwn(copy.nested, "none")).toBe(true);
  });

  it("hands everything else to structuredClone: dates, maps, class instances, cycles, sparse arrays", () => {
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const date = new Date(0);
    const sparse = [1, 2, 3];
    delete sparse[1];
    const copy = cloneData({ date, map: new Map([["k", 1]]), cyclic, sparse });
    expect(copy.date).toBeInstanceOf(Date);
    expect(copy.date).not.toBe(date);
    expect(copy.map.get("k")).toBe(1);
    expect((copy.cyclic as { self: unknown }).self).toBe(copy.cyclic);
    expect(1 in copy.sparse).toBe(false);
  });

  it("refuses what cannot be cloned, as structuredClone does", () => {
    expect(() => cloneData({ f: () => 1 })).toThrow();
    expect(() => cloneData([Symbol("s")])).toThrow();
  });

  it("a __proto__ key stays a plain key and never becomes the copy's prototype", () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const copy = cloneData(parsed);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
    expect(copy).toEqual(structuredClone(parsed));
  });
});
