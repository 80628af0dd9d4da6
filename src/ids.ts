import { v7 as uuidv7 } from "uuid";
import { systemClock } from "./clock.ts";

// Random bytes come from one pooled crypto.getRandomValues call per 256 ids: asking the CSPRNG for 16
// bytes per id cost ~2.5 µs, more than a whole local dispatch (see README, Benchmarks).
const POOL_BYTES = 4096;
const pool = /* @__PURE__ */ new Uint8Array(POOL_BYTES);
let poolOffset = POOL_BYTES;
let lastMs = Number.NEGATIVE_INFINITY;
let sequence = 0;

function randomBytes16(): Uint8Array {
  if (poolOffset + 16 > POOL_BYTES) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return bytes;
}

/**
 * Message ids are UUIDv7: unique, URL-safe, and ordered by creation time when compared as strings,
 * also within one millisecond (a random 31-bit sequence start, then +1 per id, as RFC 9562 §6.2 allows).
 */
export function newMessageId(): string {
  const random = randomBytes16();
  const now = systemClock.now();
  if (now > lastMs) {
    lastMs = now;
    sequence =
      (((random[6] as number) & 0x7f) << 24) |
      ((random[7] as number) << 16) |
      ((random[8] as number) << 8) |
      (random[9] as number);
  } else {
    sequence = (sequence + 1) | 0;
    if (sequence === 0) lastMs++;
  }
  return uuidv7({ random, msecs: lastMs, seq: sequence });
}

/** Ids of nodes, services and routers: short, URL-safe, and never a prototype key. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:@/-]{1,200}$/;

/** True when `name` can be used as a node, service or router name. */
export function isValidName(name: unknown): name is string {
  return typeof name === "string" && NAME_PATTERN.test(name) && !FORBIDDEN_KEYS.has(name);
}

/** Keys that must never reach user code from the wire, because merging them pollutes prototypes. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);
