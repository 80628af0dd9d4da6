import type { Message } from "../message.ts";
import { LOCAL } from "../registry.ts";
import type { Telemetry, TelemetryEvent } from "../telemetry.ts";
import { newSpanId, traceFlagsOf, traceIdOf } from "./trace-context.ts";

/**
 * OpenTelemetry's span kinds, with OTLP's numbers.
 *
 * @example
 * spans.filter((span) => span.kind === SpanKind.SERVER);
 */
export const SpanKind = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4 } as const;
export type SpanKind = (typeof SpanKind)[keyof typeof SpanKind];

/**
 * A finished span in OpenTelemetry's shape (the OTLP/JSON field names; times are decimal strings of
 * nanoseconds since the epoch, ids are lowercase hex). `status.code`: 0 unset, 2 error.
 *
 * @example
 * const span: Span = { traceId, spanId, name: "greet", kind: SpanKind.CLIENT, startTimeUnixNano: "1767225600000000000", endTimeUnixNano: "1767225600002000000", attributes: {}, status: { code: 0 } };
 */
export interface Span {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: SpanKind;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly status: { readonly code: 0 | 1 | 2; readonly message?: string };
  /** The W3C trace flags of the span's context (`1` = sampled), OTLP's `flags`; the recorder always sets it. */
  readonly flags?: number;
}

/**
 * Options of `createSpanRecorder`.
 *
 * @example
 * createSpanRecorder(node.telemetry, exportSpan, { maxOpenSpans: 1_000 });
 */
export interface SpanRecorderOptions {
  /** Spans started but not ended (a handler answering `noReply` never ends its span); the oldest go first. @default 10_000 */
  maxOpenSpans?: number;
}

interface OpenSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: number;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: SpanKind;
  readonly start: number;
  readonly attributes: Record<string, string | number | boolean>;
}

/** Epoch ms → OTLP's decimal nanoseconds (a string: nanoseconds exceed 2^53). Microsecond precision. */
function unixNano(ms: number): string {
  const micros = Math.round(ms * 1_000);
  return micros === 0 ? "0" : `${micros}000`;
}

// Answers that mean the call failed, rather than a domain answer such as not_found or validation_error.
const FAILED = new Set(["error", "service_unavailable", "service_timeout", "no_nodes_available", "try_another_node"]);

function statusOf(message: Message | undefined): Span["status"] {
  const status = message?.response?.status;
  return status !== undefined && FAILED.has(status) ? { code: 2, message: status } : { code: 0 };
}

const asString = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const messageOf = (event: TelemetryEvent): Message | undefined => event.metadata.message as Message | undefined;

/**
 * Turns a telemetry bus's dispatch events into OpenTelemetry-shaped spans, without depending on
 * OpenTelemetry: each attempt of a dispatch or cast is a CLIENT span (INTERNAL when served locally), a
 * peer's request is a SERVER span on the node that runs it, and a publication is a PRODUCER span whose
 * deliveries are its children. Parents follow the messages' W3C `traceparent`s, across nodes.
 * Returns the function that stops recording.
 *
 * @example
 * import { createSpanRecorder, otlpTraceRequest } from "x3m-system";
 * const spans: Span[] = [];
 * const stop = createSpanRecorder(node.telemetry, (span) => spans.push(span));
 * // later: await fetch("http://collector:4318/v1/traces", { method: "POST", body: JSON.stringify(otlpTraceRequest(spans, { serviceName: "web" })) });
 */
export function createSpanRecorder(
  telemetry: Telemetry,
  onSpan: (span: Span) => void,
  options: SpanRecorderOptions = {},
): () => void {
  const maxOpen = options.maxOpenSpans ?? 10_000;
  const open = new Map<string, OpenSpan>();

  const start = (span: OpenSpan) => {
    if (open.size >= maxOpen) open.delete(open.keys().next().value as string);
    open.set(span.spanId, span);
  };
  const emit = (span: OpenSpan, end: number, outcome: { message?: Message; status?: Span["status"] }) => {
    const response = outcome.message?.response?.status;
    onSpan({
      traceId: span.traceId,
      spanId: span.spanId,
      ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
      name: span.name,
      kind: span.kind,
      startTimeUnixNano: unixNano(span.start),
      endTimeUnixNano: unixNano(end),
      attributes: response ? { ...span.attributes, "x3m.response.status": response } : span.attributes,
      status: outcome.status ?? statusOf(outcome.message),
      flags: span.flags,
    });
  };
  const end = (event: TelemetryEvent) => {
    const spanId = event.metadata.spanId;
    const span = typeof spanId === "string" ? open.get(spanId) : undefined;
    if (!span) return;
    open.delete(span.spanId);
    if (typeof event.metadata.accepted === "boolean") span.attributes["x3m.cast.accepted"] = event.metadata.accepted;
    emit(span, event.measurements.time ?? 0, { message: messageOf(event) });
  };
  const opened = (event: TelemetryEvent, kind: SpanKind, start: number, spanId: unknown): OpenSpan | undefined => {
    const message = messageOf(event);
    if (!message?.traceparent || typeof spanId !== "string") return undefined;
    const attributes: Record<string, string | number | boolean> = {
      "rpc.system": "x3m-system",
      "x3m.service": message.serviceName,
      "x3m.message.id": message.id,
      "x3m.correlation_id": message.correlationId,
    };
    for (const [key, attribute] of [
      ["callerNode", "x3m.caller_node"],
      ["serviceNode", "x3m.service_node"],
      ["node", "x3m.node"],
      ["topic", "x3m.topic"],
    ] as const) {
      const value = asString(event.metadata[key]);
      if (value !== undefined) attributes[attribute] = value;
    }
    if (event.metadata.cast === true) attributes["x3m.cast"] = true;
    const topic = asString(event.metadata.topic);
    return {
      traceId: traceIdOf(message.traceparent),
      spanId,
      flags: traceFlagsOf(message.traceparent),
      parentSpanId: asString(event.metadata.parentSpanId),
      name: kind === SpanKind.PRODUCER ? `publish ${topic}` : message.serviceName,
      kind,
      start,
      attributes,
    };
  };

  return telemetry.on("*", (event) => {
    const { measurements, metadata } = event;
    // Events that mark a whole span at once: it started `duration` before `time`.
    const time = measurements.time ?? 0;
    const startedAt = time - (measurements.duration ?? 0);
    switch (event.name) {
      case "invoking_service": {
        const kind = metadata.serviceNode === LOCAL ? SpanKind.INTERNAL : SpanKind.CLIENT;
        const span = opened(event, kind, measurements.start ?? 0, metadata.spanId);
        if (span) start(span);
        return;
      }
      case "executing_service": {
        const span = opened(event, SpanKind.SERVER, measurements.start ?? 0, metadata.spanId);
        if (span) start(span);
        return;
      }
      case "service_responded":
      case "execution_finished":
        end(event);
        return;
      case "service_not_found": {
        // No provider: the dispatch's span id was never sent anywhere, so the span gets a fresh one.
        const span = opened(event, SpanKind.CLIENT, startedAt, newSpanId());
        if (span) emit(span, time, { status: { code: 2, message: "service_unavailable" } });
        return;
      }
      case "topic_published": {
        const span = opened(event, SpanKind.PRODUCER, startedAt, metadata.spanId);
        if (!span) return;
        span.attributes["x3m.subscribers"] = measurements.subscribers ?? 0;
        const failed = measurements.failed ?? 0;
        emit(span, time, { status: failed > 0 ? { code: 2, message: `${failed} deliveries failed` } : { code: 0 } });
        return;
      }
      default:
        return;
    }
  });
}

/**
 * Wraps spans in an OTLP/JSON `ExportTraceServiceRequest`, ready to POST to a collector's `/v1/traces`.
 *
 * @example
 * import { otlpTraceRequest } from "x3m-system";
 * await fetch("http://localhost:4318/v1/traces", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify(otlpTraceRequest(spans, { serviceName: "checkout" })),
 * });
 */
export function otlpTraceRequest(spans: readonly Span[], resource: { serviceName: string }) {
  const keyValues = (attributes: Readonly<Record<string, string | number | boolean>>) =>
    Object.entries(attributes).map(([key, value]) => ({
      key,
      value:
        typeof value === "string"
          ? { stringValue: value }
          : typeof value === "boolean"
            ? { boolValue: value }
            : Number.isInteger(value)
              ? { intValue: value }
              : { doubleValue: value },
    }));
  return {
    resourceSpans: [
      {
        resource: { attributes: keyValues({ "service.name": resource.serviceName }) },
        scopeSpans: [
          {
            scope: { name: "x3m-system" },
            spans: spans.map((span) => ({ ...span, attributes: keyValues(span.attributes) })),
          },
        ],
      },
    ],
  };
}
