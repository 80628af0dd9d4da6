const UNSUPPORTED = Symbol("unsupported");
/** Deeper than this is treated as a cycle (or an abuse) and left to `structuredClone`. */
const MAX_DEPTH = 64;

/**
 * A deep copy of stored data, as `structuredClone` makes it. Plain data (primitives, arrays, objects whose
 * prototype is `Object.prototype` or `null`) is copied by a direct walk, several times faster than
 * `structuredClone` for the small records an event store holds (its serialization was a fifth of an
 * aggregate command); anything else (dates, maps, typed arrays, class instances, cycles, functions) goes
 * to `structuredClone` as a whole, which copies it or throws `DataCloneError` exactly as before.
 *
 * @example
 * const copy = cloneData({ type: "Deposited", amount: 5 });
 */
export function cloneData<TValue>(value: TValue): TValue {
  const copy = copyPlain(value, 0);
  return copy === UNSUPPORTED ? structuredClone(value) : (copy as TValue);
}

function copyPlain(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null) {
    // Functions and symbols cannot be cloned: structuredClone throws for them, as the store always did.
    return typeof value === "function" || typeof value === "symbol" ? UNSUPPORTED : value;
  }
  if (depth >= MAX_DEPTH) return UNSUPPORTED;
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return UNSUPPORTED; // a sparse array: structuredClone keeps its holes
      const item = copyPlain(value[i], depth + 1);
      if (item === UNSUPPORTED) return UNSUPPORTED;
      copy[i] = item;
    }
    return copy;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return UNSUPPORTED;
  const copy: Record<string, unknown> = {};
  // `for…in` walks the object's own keys without building an array of them (its prototype has none).
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return UNSUPPORTED;
    // Assigning "__proto__" would set the copy's prototype instead of a property.
    if (key === "__proto__") return UNSUPPORTED;
    const item = copyPlain((value as Record<string, unknown>)[key], depth + 1);
    if (item === UNSUPPORTED) return UNSUPPORTED;
    copy[key] = item;
  }
  return copy;
}
