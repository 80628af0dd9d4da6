import { newSpanId, newTraceparent } from "../../src/index.ts";

/**
 * The id source of an OpenTelemetry SDK tracer provider (its `idGenerator` option; the shape of
 * `IdGenerator` in `@opentelemetry/sdk-trace-base`).
 *
 * @example
 * const ids: IdGenerator = createIdGenerator();
 */
export interface IdGenerator {
  /** 32 lowercase hex characters, not all zero. */
  generateTraceId(): string;
  /** 16 lowercase hex characters, not all zero. */
  generateSpanId(): string;
}

// The ids `recordSpans` wants for the span it is starting, each taken at most once. The SDK asks its
// generator for them synchronously inside `startSpan`, so nothing else can take them in between.
let pinnedTraceId: string | undefined;
let pinnedSpanId: string | undefined;

/** @internal Runs `start` with the next ids the generator hands out set to the given ones. */
export function withPinnedIds<TResult>(ids: { traceId: string; spanId: string }, start: () => TResult): TResult {
  pinnedTraceId = ids.traceId;
  pinnedSpanId = ids.spanId;
  try {
    return start();
  } finally {
    pinnedTraceId = undefined;
    pinnedSpanId = undefined;
  }
}

const randomIds: IdGenerator = {
  generateTraceId: () => newTraceparent().slice(3, 35), // a version-00 traceparent: "00-<trace id>-…"
  generateSpanId: newSpanId,
};

/**
 * The `idGenerator` to give the app's tracer provider. The SDK names its spans in every `traceparent` it
 * writes (on the wire, in stored messages) before a span is recorded, and OpenTelemetry's API cannot
 * start a span with a given id; so `recordSpans` pins the ids of the span it starts and this generator
 * hands them out. Every other span gets ids from `fallback`. Without it the SDK's spans get ids that no
 * traceparent names, their links break, and `recordSpans` reports it once through OpenTelemetry's `diag`.
 *
 * @param fallback the ids of every other span. @default random ids (Web Crypto)
 * @example
 * import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
 * import { createIdGenerator } from "x3m-system/opentelemetry";
 * const provider = new BasicTracerProvider({ idGenerator: createIdGenerator(), spanProcessors: [new BatchSpanProcessor(exporter)] });
 */
export function createIdGenerator(fallback: IdGenerator = randomIds): IdGenerator {
  return {
    generateTraceId() {
      const pinned = pinnedTraceId;
      pinnedTraceId = undefined;
      return pinned ?? fallback.generateTraceId();
    },
    generateSpanId() {
      const pinned = pinnedSpanId;
      pinnedSpanId = undefined;
      return pinned ?? fallback.generateSpanId();
    },
  };
}
