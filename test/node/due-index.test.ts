// The memory alarm store's due index against a brute-force model: random saves, replacements and
// deletions (enough to cross its rebuild and compaction thresholds), and pages of every size.
import { describe, expect, it } from "vitest";
import { createDueIndex, type Due, dueOrder } from "../../src/scheduler/due-index.ts";
import { seededRandom } from "../../src/testing/index.ts";

describe("due index", () => {
  for (const seed of [1, 2, 3]) {
    it(`pages exactly like sorting every live entry (seed ${seed})`, () => {
      const random = seededRandom(seed);
      const live = new Map<string, Due>();
      const index = createDueIndex<Due>({
        live: (entry) => live.get(entry.id) === entry,
        all: () => live.values(),
        size: () => live.size,
      });
      const expected = (until: number, limit: number) =>
        [...live.values()]
          .filter((entry) => entry.dispatchAt < until)
          .sort(dueOrder)
          .slice(0, limit);
      for (let step = 0; step < 12_000; step++) {
        const roll = random();
        const id = `a-${Math.floor(random() * 3_000)}`;
        if (roll < 0.6) {
          if (live.has(id)) index.removed();
          const entry = { id, dispatchAt: Math.floor(random() * 500) }; // many ties on dispatchAt
          live.set(id, entry);
          index.add(entry);
        } else if (roll < 0.9) {
          if (live.delete(id)) index.removed();
        } else {
          const until = Math.floor(random() * 600);
          const limit = 1 + Math.floor(random() * 200);
          expect(index.first(until, limit)).toEqual(expected(until, limit));
        }
      }
      expect(index.first(Number.POSITIVE_INFINITY, 10_000)).toEqual(expected(Number.POSITIVE_INFINITY, 10_000));
    });
  }

  it("delivering from the front in order drops the dead entries for good", () => {
    const live = new Map<string, Due>();
    const index = createDueIndex<Due>({
      live: (entry) => live.get(entry.id) === entry,
      all: () => live.values(),
      size: () => live.size,
    });
    for (let i = 0; i < 5_000; i++) {
      const entry = { id: `a-${String(i).padStart(5, "0")}`, dispatchAt: i };
      live.set(entry.id, entry);
      index.add(entry);
    }
    for (let page = 0; page < 50; page++) {
      const first = index.first(Number.POSITIVE_INFINITY, 100);
      expect(first.map((entry) => entry.dispatchAt)).toEqual(Array.from({ length: 100 }, (_, i) => page * 100 + i));
      for (const entry of first) {
        live.delete(entry.id);
        index.removed();
      }
    }
    expect(index.first(Number.POSITIVE_INFINITY, 100)).toEqual([]);
  });
});
