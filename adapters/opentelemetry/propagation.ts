import { type Context, context, trace } from "@opentelemetry/api";
import { formatTraceparent, type Message, parseTraceparent, type ServiceHandler } from "../../src/index.ts";

/**
 * The message with `ctx`'s span (by default the active one) as its `traceparent`, so the SDK's spans
 * for it become that span's children; the message itself when `ctx` has no valid span.
 *
 * @example
 * import { context, trace } from "@opentelemetry/api";
 * import { Message } from "x3m-system";
 * import { stampTraceparent } from "x3m-system/opentelemetry";
 * await tracer.startActiveSpan("checkout", async (span) => {
 *   await node.dispatch(stampTraceparent(Message.new("charge", { rawRequest: { amount: 10 } })));
 *   span.end();
 * });
 */
export function stampTraceparent<TRequest>(
  message: Message<TRequest>,
  ctx: Context = context.active(),
): Message<TRequest> {
  const spanContext = trace.getSpanContext(ctx);
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return message;
  const traceparent = formatTraceparent({
    traceId: spanContext.traceId,
    spanId: spanContext.spanId,
    flags: (spanContext.traceFlags & 0xff).toString(16).padStart(2, "0"),
  });
  return traceparent === message.traceparent ? message : message.with({ traceparent });
}

/** The active context with the span the message's `traceparent` names (the one its handler runs in) as its span. */
function contextOf(message: Message): Context {
  const active = context.active();
  const parsed = parseTraceparent(message.traceparent);
  if (!parsed) return active;
  const { traceId, spanId, flags } = parsed;
  return trace.setSpanContext(active, { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: false });
}

function wrap(handler: ServiceHandler): ServiceHandler {
  return (message) => context.with(contextOf(message), handler, undefined, message);
}

/**
 * Wraps a service handler, or every handler of a services map, so it runs with the span its message was
 * served in as the active OpenTelemetry span: the app's own spans (`tracer.startActiveSpan`) nest under
 * the SDK's server span (or its local span), and `stampTraceparent` inside it continues the trace.
 *
 * @example
 * import { defineRouter } from "x3m-system";
 * import { withMessageContext } from "x3m-system/opentelemetry";
 * const router = defineRouter({
 *   name: "orders",
 *   services: withMessageContext({
 *     place: (msg) => tracer.startActiveSpan("reserve stock", (span) => { span.end(); return msg.ok(); }),
 *   }),
 *   authorize: () => true,
 * });
 */
export function withMessageContext<THandler extends ServiceHandler>(handler: THandler): THandler;
export function withMessageContext<TServices extends Record<string, ServiceHandler>>(services: TServices): TServices;
export function withMessageContext(target: ServiceHandler | Record<string, ServiceHandler>) {
  if (typeof target === "function") return wrap(target);
  return Object.fromEntries(Object.entries(target).map(([name, handler]) => [name, wrap(handler)]));
}
