import { LOCAL } from "../announced.ts";
import { SdkClientError, SdkErrorCode } from "../errors.ts";
import { isValidName } from "../ids.ts";
import type { Message } from "../message.ts";
import { type Caller, callMeta, checkTimeout, stamp } from "../node/caller.ts";
import { resolveOutcome } from "../node/outcome.ts";
import { type PublishOptions, type TopicDelivery, type TopicRegistry, topicCopy } from "./pubsub.ts";
import { childTraceparent, spanIdOf } from "./trace-context.ts";

/**
 * `node.publish` (Spawn's Pubsub): the publication is a span; every subscriber, here and on peers, gets a
 * caused-by copy in a child span, through its router, concurrently. Resolves one `TopicDelivery` per
 * subscriber, local ones first, then by node id.
 */
export async function publish(
  caller: Caller,
  topics: TopicRegistry,
  publication: { readonly topic: string; readonly message: Message; readonly options: PublishOptions },
): Promise<TopicDelivery[]> {
  const { topic, message, options } = publication;
  caller.assertOpen();
  if (!isValidName(topic)) {
    throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `"${String(topic)}" cannot be a topic`);
  }
  const timeoutMs = checkTimeout(options.timeoutMs, caller.timeoutMs);
  const { clock, telemetry, nodeId } = caller;
  const startedAt = clock.now();
  const published = stamp(nodeId, message, startedAt);
  const deliveries = await Promise.all(
    topics.subscribers(topic).map((target) => deliver(caller, topic, published, { ...target, timeoutMs })),
  );
  if (telemetry.active) {
    const time = clock.now();
    const failed = deliveries.filter((delivery) => !delivery.ok).length;
    telemetry.emit(
      "topic_published",
      { time, duration: time - startedAt, subscribers: deliveries.length, failed },
      { ...callMeta(nodeId, published, message), topic, spanId: spanIdOf(published.traceparent as string) },
    );
  }
  return deliveries;
}

/** One subscriber's delivery of a publication: a caused-by copy, through its node's router. */
async function deliver(
  caller: Caller,
  topic: string,
  published: Message,
  target: { readonly node: string; readonly service: string; readonly timeoutMs: number },
): Promise<TopicDelivery> {
  const { node, service, timeoutMs } = target;
  const { clock, telemetry } = caller;
  const copy = topicCopy(published, service, childTraceparent(published.traceparent as string));
  const meta = telemetry.active
    ? {
        message: copy,
        callerNode: caller.nodeId,
        serviceNode: node,
        topic,
        spanId: spanIdOf(copy.traceparent as string),
        parentSpanId: spanIdOf(published.traceparent as string),
      }
    : undefined;
  const invokedAt = clock.now();
  if (meta) telemetry.emit("invoking_service", { start: invokedAt, monoStart: invokedAt }, meta);
  const attempt =
    node === LOCAL
      ? caller.local.invoke(caller.registry.localService(copy.serviceName), copy, timeoutMs)
      : caller.remote.invoke(node, copy, { op: "invoke", timeoutMs });
  const outcome = attempt instanceof Promise ? await attempt : attempt;
  const resolved = resolveOutcome(copy, outcome, timeoutMs);
  if (meta) {
    const time = clock.now();
    telemetry.emit("service_responded", { time, duration: time - invokedAt }, { ...meta, message: resolved });
  }
  switch (outcome.kind) {
    case "reply":
      return { node, service, ok: true, reply: resolved };
    case "timeout":
      return { node, service, ok: false, reason: "service_timeout" };
    case "failed":
      return { node, service, ok: false, reason: outcome.reason };
    case "rejected":
      return { node, service, ok: false, reason: { code: outcome.error.code, message: outcome.error.message } };
    case "accepted":
      return { node, service, ok: false, reason: "unexpected_acknowledgement" };
  }
}
