import { systemClock } from "./clock.ts";

// Random bits come from one pooled crypto.getRandomValues call per ~500 ids: asking the CSPRNG for 16
// bytes per id cost ~2.5 µs, more than a whole local dispatch (see docs/benchmarks.md).
const POOL_BYTES = 4096;
const pool = /* @__PURE__ */ new Uint8Array(POOL_BYTES);
let poolOffset = POOL_BYTES;
/** Byte → its two lowercase hex digits; built on first use (module scope stays inert). */
let hex: string[] | undefined;

let lastMs = Number.NEGATIVE_INFINITY;
let sequence = 0;
/** `tttttttt-tttt-` of `prefixMs`, made once per millisecond. */
let timePrefix = "";
let prefixMs = Number.NaN;

function randomBytes(count: number): number {
  if (poolOffset + count > POOL_BYTES) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += count;
  return at;
}

function hexTable(): string[] {
  hex = Array.from({ length: 256 }, (_, byte) => (byte + 0x100).toString(16).slice(1));
  return hex;
}

/**
 * Message ids are UUIDv7 (RFC 9562): unique, URL-safe, and ordered by creation time when compared as
 * strings, also within one millisecond: a random 31-bit counter start per millisecond, then +1 per id
 * (RFC 9562 §6.2, method 1), laid out as the `uuid` package's v7 does (counter in `rand_a` and the top of
 * `rand_b`, 42 random bits after it). Written here rather than with `uuid`'s `v7()` because its options
 * handling and per-byte string building were a fifth of a local dispatch.
 */
export function newMessageId(): string {
  return messageIdAt(systemClock.now());
}

/** @internal `newMessageId` for a time the caller already read (one clock read per `Message.new`). */
export function messageIdAt(now: number): string {
  const table = hex ?? hexTable();
  if (now > lastMs) {
    const at = randomBytes(4);
    lastMs = now;
    sequence =
      (((pool[at] as number) & 0x7f) << 24) |
      ((pool[at + 1] as number) << 16) |
      ((pool[at + 2] as number) << 8) |
      (pool[at + 3] as number);
  } else {
    sequence = (sequence + 1) | 0;
    // 2^32 ids in one millisecond: borrow the next one, as the uuid package does.
    if (sequence === 0) lastMs++;
  }
  if (lastMs !== prefixMs) {
    prefixMs = lastMs;
    timePrefix = timeHex(lastMs, table);
  }
  const at = randomBytes(6);
  const seq = sequence;
  return (
    timePrefix +
    table[0x70 | ((seq >>> 28) & 0x0f)] +
    table[(seq >>> 20) & 0xff] +
    "-" +
    table[0x80 | ((seq >>> 14) & 0x3f)] +
    table[(seq >>> 6) & 0xff] +
    "-" +
    table[((seq << 2) & 0xff) | ((pool[at] as number) & 0x03)] +
    table[pool[at + 1] as number] +
    table[pool[at + 2] as number] +
    table[pool[at + 3] as number] +
    table[pool[at + 4] as number] +
    table[pool[at + 5] as number]
  );
}

/** The 48-bit millisecond timestamp as `tttttttt-tttt-`. */
function timeHex(ms: number, table: string[]): string {
  const byte = (divisor: number) => table[Math.floor(ms / divisor) & 0xff] as string;
  return `${byte(2 ** 40)}${byte(2 ** 32)}${byte(2 ** 24)}${byte(2 ** 16)}-${byte(2 ** 8)}${byte(1)}-`;
}

/** Ids of nodes, services and routers: short, URL-safe, and never a prototype key. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:@/-]{1,200}$/;

/** True when `name` can be used as a node, service or router name. */
export function isValidName(name: unknown): name is string {
  return typeof name === "string" && NAME_PATTERN.test(name) && !FORBIDDEN_KEYS.has(name);
}

/** Keys that must never reach user code from the wire, because merging them pollutes prototypes. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);
