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

// Ids are cut from strings of many, made from one getRandomValues call per batch and decoded at once:
// building each id's hex digits one by one cost ~0.5 µs, a third of a local dispatch, which makes one.
const BATCH = 128;
const TRACEPARENT_CHARS = 55;
let traceparents = "";
let spanIds = "";
let nextTraceparent = BATCH;
let nextSpanId = BATCH;
/** Byte → its two lowercase hex digits' char codes, low byte first. */
let hexPairs: Uint16Array | undefined;
let decoder: TextDecoder | undefined;

/**
 * Random 8-byte groups, none all zero: a span id is one group and a trace id two, so neither can be the
 * all-zero id a traceparent forbids.
 */
function randomGroups(groups: number): Uint8Array {
  const bytes = crypto.getRandomValues(new Uint8Array(groups * 8));
  for (let group = 0; group < bytes.length; group += 8) {
    let any = 0;
    for (let i = group; i < group + 8; i++) any |= bytes[i] as number;
    if (any === 0) bytes[group + 7] = 1;
  }
  return bytes;
}

/** Writes `count` bytes from `from` as hex char codes at `at`. */
function writeHex(codes: Uint8Array, at: number, bytes: Uint8Array, from: number, count: number): void {
  const pairs = hexPairs as Uint16Array;
  for (let i = 0; i < count; i++) {
    const pair = pairs[bytes[from + i] as number] as number;
    codes[at + 2 * i] = pair & 0xff;
    codes[at + 2 * i + 1] = pair >> 8;
  }
}

/** `BATCH` ids of `charsEach` characters from `groupsEach` random 8-byte groups each, laid out by `layout`. */
function batchOf(
  charsEach: number,
  groupsEach: number,
  layout: (codes: Uint8Array, at: number, bytes: Uint8Array, from: number) => void,
): string {
  if (!hexPairs) {
    hexPairs = new Uint16Array(256);
    for (let i = 0; i < 256; i++) {
      const hex = i.toString(16).padStart(2, "0");
      hexPairs[i] = hex.charCodeAt(0) | (hex.charCodeAt(1) << 8);
    }
  }
  const bytes = randomGroups(BATCH * groupsEach);
  const codes = new Uint8Array(BATCH * charsEach);
  for (let i = 0; i < BATCH; i++) layout(codes, i * charsEach, bytes, i * groupsEach * 8);
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
    spanIds = batchOf(16, 1, (codes, at, bytes, from) => writeHex(codes, at, bytes, from, 8));
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
    traceparents = batchOf(TRACEPARENT_CHARS, 3, (codes, at, bytes, from) => {
      codes[at] = 48;
      codes[at + 1] = 48;
      codes[at + 2] = 45;
      writeHex(codes, at + 3, bytes, from, 16);
      codes[at + 35] = 45;
      writeHex(codes, at + 36, bytes, from + 16, 8);
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
