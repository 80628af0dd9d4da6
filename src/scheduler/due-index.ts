import { smallest } from "./smallest.ts";

/** What the index orders: by `dispatchAt`, then `id` (code-unit order). */
export interface Due {
  readonly id: string;
  readonly dispatchAt: number;
}

export function dueOrder(a: Due, b: Due): number {
  if (a.dispatchAt !== b.dispatchAt) return a.dispatchAt - b.dispatchAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The first `limit` of two sorted lists, in order. */
function mergeFirst<TEntry extends Due>(a: readonly TEntry[], b: readonly TEntry[], limit: number): TEntry[] {
  const merged: TEntry[] = [];
  let i = 0;
  let j = 0;
  while (merged.length < limit && (i < a.length || j < b.length)) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && dueOrder(x, y) <= 0)) {
      merged.push(x as TEntry);
      i++;
    } else {
      merged.push(y);
      j++;
    }
  }
  return merged;
}

/** The memory store's entries in due order (see `createDueIndex`). */
export interface DueIndex<TEntry extends Due> {
  add(entry: TEntry): void;
  /** An entry was replaced or deleted (so that dead entries never pile up between pages). */
  removed(): void;
  /** The first `limit` live entries due before `until`. */
  first(until: number, limit: number): TEntry[];
}

/**
 * The memory store's entries in due order, so that a page of a backlog costs about its own size instead of
 * a scan of every alarm: a sorted run, plus the entries added since (sorted into the run once they are
 * many). A replaced or deleted entry is not removed here: `live` says it is gone, and it is skipped (and
 * dropped for good at the front of the run, where deliveries delete).
 */
export function createDueIndex<TEntry extends Due>(source: {
  live(entry: TEntry): boolean;
  all(): Iterable<TEntry>;
  size(): number;
}): DueIndex<TEntry> {
  let sorted: TEntry[] = [];
  let head = 0;
  let added: TEntry[] = [];
  let dead = 0;
  const live = (entry: TEntry) => source.live(entry);
  return {
    add(entry) {
      added.push(entry);
    },
    removed() {
      // Dead entries hold their alarm's JSON: dropped once they outnumber the live ones (amortized O(1)).
      if (++dead <= Math.max(1_024, source.size())) return;
      sorted = sorted.slice(head).filter(live);
      head = 0;
      added = added.filter(live);
      dead = 0;
    },
    first(until, limit) {
      // The added entries are sorted into the run once they are many: amortized O(log n) each.
      if (added.length > Math.max(1_024, (sorted.length - head) / 4)) {
        sorted = [...source.all()].sort(dueOrder);
        head = 0;
        added = [];
        dead = 0;
      }
      while (head < sorted.length && !live(sorted[head] as TEntry)) head++;
      const fromRun: TEntry[] = [];
      for (let i = head; i < sorted.length && fromRun.length < limit; i++) {
        const entry = sorted[i] as TEntry;
        if (!(entry.dispatchAt < until)) break;
        if (live(entry)) fromRun.push(entry);
      }
      added = added.filter(live);
      const fromAdded = smallest(
        added.filter((entry) => entry.dispatchAt < until),
        limit,
        dueOrder,
      );
      return mergeFirst(fromRun, fromAdded, limit);
    },
  };
}
