import {
  type Context,
  diag,
  type HrTime,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import {
  createSpanRecorder,
  SpanKind as OtlpSpanKind,
  type Span as SdkSpan,
  type SpanRecorderOptions,
  type Telemetry,
} from "../../src/index.ts";
import { withPinnedIds } from "./id-generator.ts";

/**
 * Options of `recordSpans`.
 *
 * @example
 * recordSpans(node.telemetry, { tracer: provider.getTracer("x3m-system"), maxOpenSpans: 1_000 });
 */
export interface RecordSpansOptions extends SpanRecorderOptions {
  /** The tracer the SDK's spans are started with. @default trace.getTracer("x3m-system") (the global provider's) */
  tracer?: Tracer;
}

const KINDS: Record<OtlpSpanKind, SpanKind> = {
  [OtlpSpanKind.INTERNAL]: SpanKind.INTERNAL,
  [OtlpSpanKind.SERVER]: SpanKind.SERVER,
  [OtlpSpanKind.CLIENT]: SpanKind.CLIENT,
  [OtlpSpanKind.PRODUCER]: SpanKind.PRODUCER,
};

/** OTLP's decimal nanoseconds → OpenTelemetry's `[seconds, nanoseconds]` (a number of ms would be ambiguous). */
function hrTime(unixNano: string): HrTime {
  return [unixNano.length > 9 ? Number(unixNano.slice(0, -9)) : 0, Number(unixNano.slice(-9))];
}

/**
 * The context a span is started in: its parent's span context, as the message's `traceparent` named it.
 * A server span's parent ran on another node; every other parent ran here.
 */
function parentContext(span: SdkSpan): Context {
  if (span.parentSpanId === undefined) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: span.traceId,
    spanId: span.parentSpanId,
    traceFlags: span.flags ?? 1,
    isRemote: span.kind === OtlpSpanKind.SERVER,
  });
}

/**
 * Records the SDK's spans (each dispatch or cast attempt, each peer's request served, each publication:
 * what `createSpanRecorder` makes of a telemetry bus) as OpenTelemetry spans through the app's tracer,
 * with the ids, parent, kind, attributes, status and times (from the node's Clock) the SDK gave them.
 * A span is recorded when it ends, so a handler that answers `noReply` never produces its span. The
 * tracer's provider must use `createIdGenerator()`. Returns the function that stops recording.
 *
 * @example
 * import { createNode } from "x3m-system";
 * import { recordSpans } from "x3m-system/opentelemetry";
 * const node = createNode();
 * const stop = recordSpans(node.telemetry); // the global tracer provider's tracer
 * // later: stop();
 */
export function recordSpans(telemetry: Telemetry, options: RecordSpansOptions = {}): () => void {
  const tracer = options.tracer ?? trace.getTracer("x3m-system");
  let reported = false;
  const record = (span: SdkSpan) => {
    const started = withPinnedIds(span, () =>
      tracer.startSpan(
        span.name,
        { kind: KINDS[span.kind], attributes: span.attributes, startTime: hrTime(span.startTimeUnixNano) },
        parentContext(span),
      ),
    );
    if (!reported && started.isRecording() && started.spanContext().spanId !== span.spanId) {
      reported = true;
      diag.error(
        "x3m-system/opentelemetry: the tracer provider does not take its ids from createIdGenerator(), so the SDK's spans get ids no traceparent names and their traces fall apart; pass idGenerator: createIdGenerator() to the provider",
      );
    }
    if (span.status.code === 2) {
      started.setStatus({
        code: SpanStatusCode.ERROR,
        ...(span.status.message ? { message: span.status.message } : {}),
      });
    } else if (span.status.code === 1) {
      started.setStatus({ code: SpanStatusCode.OK });
    }
    started.end(hrTime(span.endTimeUnixNano));
  };
  return createSpanRecorder(telemetry, record, options);
}
