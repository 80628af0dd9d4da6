import type { Clock } from "../clock.ts";
import { SdkClientError, SdkErrorCode } from "../errors.ts";
import { type Logger, logTo } from "../logger.ts";
import { childTraceparent, newTraceparent, spanIdOf } from "../mesh/trace-context.ts";
import { type Message, stampMessage } from "../message.ts";
import type { NodeOrder } from "../node-order.ts";
import type { ServiceRegistry } from "../registry.ts";
import { Response } from "../response.ts";
import type { Telemetry } from "../telemetry.ts";
import type { LocalCalls } from "./local-calls.ts";
import type { RemoteCalls } from "./remote-calls.ts";

/** Per-call options of `dispatch`, `cast`, `validate` and `authorized`, overriding the node's defaults. */
export interface DispatchOptions {
  /**
   * How long each provider gets to answer: a number ≥ 0, or `Infinity` to wait without a timer (anything
   * else is refused with `INVALID_OPTIONS`). @default the node's `timeoutMs` (5_000)
   */
  timeoutMs?: number;
  /** The order remote providers are tried in, for this dispatch. @default the node's `nodeOrder` */
  nodeOrder?: NodeOrder;
}

/**
 * What the caller side of a node needs (dispatch, authorize, cast, publish): who it is, its time and
 * telemetry, where services are, and the two ways to run an attempt (here, or at a peer).
 */
export interface Caller {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  readonly registry: ServiceRegistry;
  readonly local: LocalCalls;
  readonly remote: RemoteCalls;
  readonly nodeOrder: NodeOrder;
  /** The default per-attempt timeout (already checked). */
  readonly timeoutMs: number;
  /** Throws `NODE_CLOSED` once the node is closed. */
  assertOpen(): void;
}

/**
 * A per-attempt timeout as given (`undefined`: `fallback`): a number ≥ 0 or `Infinity` (no timer). Anything
 * else throws `INVALID_OPTIONS`: a runtime would turn it into a 1 ms timer, silently.
 */
export function checkTimeout(timeoutMs: number | undefined, fallback: number): number {
  if (timeoutMs === undefined) return fallback;
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
    throw new SdkClientError(
      SdkErrorCode.INVALID_OPTIONS,
      `timeoutMs must be a number ≥ 0 or Infinity, not ${String(timeoutMs)}`,
    );
  }
  return timeoutMs;
}

/** The message as this node sends it: dispatch time, origin, and a new span (in the caller's trace, or a new one). */
export function stamp(nodeId: string, message: Message, now: number): Message {
  const parent = message.traceparent;
  const span = parent === undefined ? newTraceparent() : childTraceparent(parent);
  return stampMessage(message, now, message.originNode ?? nodeId, span);
}

/** Telemetry metadata of a call; `parentSpanId` is the span the caller ran in, if it had one. */
export function callMeta(nodeId: string, sent: Message, original: Message) {
  const parent = original.traceparent;
  return { message: sent, callerNode: nodeId, parentSpanId: parent === undefined ? undefined : spanIdOf(parent) };
}

export type CallMeta = ReturnType<typeof callMeta>;

/** Telemetry metadata of one attempt: the call's, with the attempt's message, provider and span. */
export function attemptMeta(meta: CallMeta, sent: Message, serviceNode: string) {
  return { ...meta, message: sent, serviceNode, spanId: spanIdOf(sent.traceparent as string) };
}

/**
 * Nobody offers the service: emits `service_not_found` (when someone listens), logs a warning, and answers
 * `service_unavailable`, marked `unknown` when this node never heard of the service (a mistyped name).
 */
export function noProvider(
  caller: Caller,
  sent: Message,
  startedAt: number,
  meta: Record<string, unknown> | undefined,
): Response {
  const { clock, telemetry, registry, nodeId } = caller;
  if (meta) {
    const time = clock.now();
    telemetry.emit("service_not_found", { time, duration: time - startedAt }, meta);
  }
  const service = sent.serviceName;
  const unknown = !registry.knows(service);
  logTo(caller.logger, "warn", "service_not_found", `no node offers service "${service}"`, {
    context: sent.logContext,
    data: { service, node: nodeId, messageId: sent.id, unknown },
  });
  return unknown ? Response.unknownService(service) : Response.serviceUnavailable(service);
}
