/**
 * A W3C trace context (https://www.w3.org/TR/trace-context/#traceparent-header), split into its parts:
 * 32 hex trace id, 16 hex span id (the `parent-id` of the header), 2 hex flags (`01` = sampled).
 *
 * @example
 * import { parseTraceparent } from "x3m-system";
 * parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
 * // { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", flags: "01" }
 */
export interface TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: string;
}

// Version 00 is exactly 55 characters; a later version may append fields after a dash (spec §3.2.4).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = "00000000000000000000000000000000";
const ZERO_SPAN_ID = "0000000000000000";

/**
 * Reads a `traceparent` value. Anything invalid (wrong shape, upper-case hex, all-zero ids, version `ff`,
 * extra fields on version 00, over 512 characters) gives `undefined`: the spec says to ignore it, never fail.
 *
 * @example
 * import { parseTraceparent } from "x3m-system";
 * const context = parseTraceparent(request.headers.get("traceparent")); // undefined when absent or invalid
 */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== "string" || value.length > 512) return undefined;
  const match = TRACEPARENT.exec(value);
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, flags };
}

/**
 * Writes a trace context as a version-00 `traceparent`.
 *
 * @example
 * import { formatTraceparent } from "x3m-system";
 * formatTraceparent({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", flags: "01" });
 */
export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.flags}`;
}

/** @internal A valid `traceparent` in the canonical version-00 form, or `undefined`. */
export function normalizeTraceparent(value: unknown): string | undefined {
  if (typeof value === "string" && value.length === 55 && value.startsWith("00-") && parseTraceparent(value)) {
    return value;
  }
  const context = parseTraceparent(value);
  return context && formatTraceparent(context);
}

// Ids are cut from strings of many, made per batch and decoded at once: building each id's hex digits one
// by one cost ~0.5 µs, a third of a local dispatch, which makes one. The digits come from xoshiro128**
// reseeded with 128 bits of the CSPRNG every `RESEED_EVERY` batches: trace and span ids are identifiers,
// not secrets (OpenTelemetry's JS SDK draws them from Math.random), and a getRandomValues call costs ~3 µs
// in Node whatever its size, which per batch was more than the rest of a local dispatch's own work.
const BATCH = 256;
const RESEED_EVERY = 16;
const TRACEPARENT_CHARS = 55;
let traceparents = "";
let spanIds = "";
let nextTraceparent = BATCH;
let nextSpanId = BATCH;
/** Nibble → the char code of its lowercase hex digit. */
let digits: Uint8Array | undefined;
let decoder: TextDecoder | undefined;
/** The generator's state (xoshiro128**, Blackman and Vigna): a typed array, so no number is ever boxed. */
const state = /* @__PURE__ */ new Uint32Array(4);
let batchesSinceSeed = RESEED_EVERY;

function rotl(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

/** `count` pseudo-random 32-bit words, reseeding the generator from the CSPRNG every `RESEED_EVERY` batches. */
function randomWords(count: number): Uint32Array {
  if (batchesSinceSeed >= RESEED_EVERY) {
    crypto.getRandomValues(state);
    if (state.every((word) => word === 0)) state[3] = 1; // the one state xoshiro cannot leave
    batchesSinceSeed = 0;
  }
  batchesSinceSeed++;
  let [a = 0, b = 0, c = 0, d = 0] = state;
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    words[i] = Math.imul(rotl(Math.imul(b, 5), 7), 9);
    const shifted = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= shifted;
    d = rotl(d, 11);
  }
  state[0] = a;
  state[1] = b;
  state[2] = c;
  state[3] = d;
  return words;
}

/** Writes `word` as 8 hex digits at `at`. */
function writeWord(codes: Uint8Array, at: number, word: number, hex: Uint8Array): void {
  for (let shift = 28, i = at; shift >= 0; shift -= 4, i++) codes[i] = hex[(word >>> shift) & 15] as number;
}

/** Writes words `w` and `w + 1` as 16 hex digits at `at`, never all zeros (the id a traceparent forbids). */
function writeGroup(codes: Uint8Array, at: number, words: Uint32Array, w: number, hex: Uint8Array): void {
  const high = words[w] as number;
  const low = words[w + 1] as number;
  writeWord(codes, at, high, hex);
  writeWord(codes, at + 8, high === 0 && low === 0 ? 1 : low, hex);
}

/** `BATCH` ids of `charsEach` characters and `groupsEach` random 16-digit groups each, laid out by `layout`. */
function batchOf(
  charsEach: number,
  groupsEach: number,
  layout: (codes: Uint8Array, at: number, words: Uint32Array, w: number, hex: Uint8Array) => void,
): string {
  digits ??= new Uint8Array([..."0123456789abcdef"].map((digit) => digit.charCodeAt(0)));
  const hex = digits;
  const words = randomWords(BATCH * groupsEach * 2);
  const codes = new Uint8Array(BATCH * charsEach);
  for (let i = 0; i < BATCH; i++) layout(codes, i * charsEach, words, i * groupsEach * 2, hex);
  decoder ??= new TextDecoder();
  return decoder.decode(codes);
}

/**
 * A new span id: 16 random hex characters, never all zeros.
 *
 * @example
 * import { newSpanId } from "x3m-system";
 * const spanId = newSpanId(); // "a3ce929d0e0e4736"
 */
export function newSpanId(): string {
  if (nextSpanId === BATCH) {
    spanIds = batchOf(16, 1, writeGroup);
    nextSpanId = 0;
  }
  const at = nextSpanId++ * 16;
  return spanIds.slice(at, at + 16);
}

/**
 * The `traceparent` of a new trace (random trace id, sampled), as the dispatcher makes one for a message
 * that carries none.
 *
 * @example
 * import { Message, newTraceparent } from "x3m-system";
 * const msg = Message.new("greet", { traceparent: newTraceparent() });
 */
export function newTraceparent(): string {
  if (nextTraceparent === BATCH) {
    // "00-" trace id (16 bytes) "-" span id (8 bytes) "-01"
    traceparents = batchOf(TRACEPARENT_CHARS, 3, (codes, at, words, w, hex) => {
      codes[at] = 48;
      codes[at + 1] = 48;
      codes[at + 2] = 45;
      writeGroup(codes, at + 3, words, w, hex);
      writeGroup(codes, at + 19, words, w + 2, hex);
      codes[at + 35] = 45;
      writeGroup(codes, at + 36, words, w + 4, hex);
      codes[at + 52] = 45;
      codes[at + 53] = 48;
      codes[at + 54] = 49;
    });
    nextTraceparent = 0;
  }
  const at = nextTraceparent++ * TRACEPARENT_CHARS;
  return traceparents.slice(at, at + TRACEPARENT_CHARS);
}

/** @internal The context of a child span: same trace id and flags, a new span id. Takes a canonical value. */
export function childTraceparent(traceparent: string): string {
  return `${traceparent.slice(0, 36)}${newSpanId()}${traceparent.slice(52)}`;
}

/** @internal The span id of a canonical `traceparent`. */
export function spanIdOf(traceparent: string): string {
  return traceparent.slice(36, 52);
}

/** @internal The trace id of a canonical `traceparent`. */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35);
}

/** @internal The trace flags of a canonical `traceparent` as a number (`1` = sampled). */
export function traceFlagsOf(traceparent: string): number {
  return Number.parseInt(traceparent.slice(53, 55), 16);
}
