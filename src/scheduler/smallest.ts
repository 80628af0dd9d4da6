/**
 * The `limit` smallest `items` by `compare`, sorted. A bounded max-heap: O(n log limit) time and O(limit)
 * memory, so paging through a large backlog never sorts (or copies) all of it.
 *
 * @example
 * smallest([5, 1, 4, 2], 2, (a, b) => a - b); // [1, 2]
 */
export function smallest<TItem>(
  items: Iterable<TItem>,
  limit: number,
  compare: (a: TItem, b: TItem) => number,
): TItem[] {
  const heap: TItem[] = [];
  const at = (i: number) => heap[i] as TItem;
  const swap = (i: number, j: number) => {
    [heap[i], heap[j]] = [at(j), at(i)];
  };
  const siftDown = (start: number) => {
    for (let i = start; ; ) {
      const left = 2 * i + 1;
      let largest = i;
      if (left < heap.length && compare(at(left), at(largest)) > 0) largest = left;
      if (left + 1 < heap.length && compare(at(left + 1), at(largest)) > 0) largest = left + 1;
      if (largest === i) return;
      swap(i, largest);
      i = largest;
    }
  };
  if (!(limit > 0)) return heap;
  for (const item of items) {
    if (heap.length < limit) {
      heap.push(item);
      for (let i = heap.length - 1; i > 0 && compare(at(i), at((i - 1) >> 1)) > 0; i = (i - 1) >> 1)
        swap(i, (i - 1) >> 1);
    } else if (compare(item, at(0)) < 0) {
      heap[0] = item;
      siftDown(0);
    }
  }
  return heap.sort(compare);
}
