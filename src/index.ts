/**
 * `x3m-system`: messages, routers, a service registry and a dispatcher that run in browsers, Workers and Node.
 * @module x3m-system
 */
export * from "./aggregate/index.ts";
export { admitClientMessage, clientAssigns, type Principal } from "./client-envelope.ts";
export { type Clock, MAX_TIMER_DELAY_MS, systemClock } from "./clock.ts";
export { describeError, isSdkClientError, type Result, SdkClientError, SdkErrorCode } from "./errors.ts";
export * from "./event-store/index.ts";
export {
  type AcceptedFrame,
  type AnnouncedService,
  type AnnounceFrame,
  DEFAULT_MAX_FRAME_BYTES,
  type DrainFrame,
  decodeFrame,
  encodeFrame,
  type Frame,
  type LeaveFrame,
  PROTOCOL_VERSION,
  type ReplyFrame,
  type RequestFrame,
} from "./frames.ts";
export { newMessageId } from "./ids.ts";
export {
  currentLogContext,
  type LogContext,
  type LogContextStorage,
  runWithLogContext,
  setLogContextStorage,
} from "./log-context.ts";
export { type LogEntry, type Logger, type LogLevel, levelFilter, silentLogger } from "./logger.ts";
export {
  type AclCall,
  type AclOptions,
  type AclPolicy,
  aclAuthorize,
  evaluateAcl,
  parseAclPolicies,
} from "./mesh/acl.ts";
export type { CastResult } from "./mesh/cast.ts";
export type { DrainOptions, NodeState } from "./mesh/drain.ts";
export { type PublishOptions, type TopicDelivery, TopicRegistry, type TopicSubscription } from "./mesh/pubsub.ts";
export {
  createSpanRecorder,
  otlpTraceRequest,
  type Span,
  SpanKind,
  type SpanRecorderOptions,
} from "./mesh/spans.ts";
export {
  formatTraceparent,
  newSpanId,
  newTraceparent,
  parseTraceparent,
  type TraceContext,
} from "./mesh/trace-context.ts";
export {
  type AggregateMeta,
  type DryRun,
  Message,
  type MessageData,
  type NewMessageOptions,
  type RawRequest,
} from "./message.ts";
export type { DispatchOptions } from "./node/caller.ts";
export type { AuthorizedAnswer } from "./node/dispatch.ts";
export { createNode } from "./node/node.ts";
export type { PeerChange } from "./node/peer-watch.ts";
export type { NodeOptions, SystemNode } from "./node/system-node.ts";
export { type NodeOrder, randomOrder, roundRobinOrder } from "./node-order.ts";
export * from "./projector/index.ts";
export { LOCAL, type LocalService, type Provider, ServiceRegistry } from "./registry.ts";
export * from "./response.ts";
export {
  type AnyRouter,
  type Authorization,
  type Authorize,
  type ChooseNode,
  defineRouter,
  type HandlerResult,
  type NoReply,
  noReply,
  type Router,
  type RouterDefinition,
  type ServiceEntry,
  type ServiceHandler,
  type ServiceMap,
  type Visibility,
} from "./router.ts";
export { assertNoForbiddenKeys, exceedsBytes, parseJsonSafely, type WalkOptions } from "./safe-json.ts";
export * from "./scheduler/index.ts";
export type { StandardSchemaV1 } from "./standard-schema.ts";
export * from "./sync/index.ts";
export {
  createTelemetry,
  TELEMETRY_EVENTS,
  type Telemetry,
  type TelemetryEvent,
  type TelemetryEventName,
  type TelemetryHandler,
} from "./telemetry.ts";
export { defineTransport, type Transport, type TransportLink } from "./transport.ts";
export {
  createInProcessHub,
  type HubFrame,
  type HubInterceptor,
  type InProcessHub,
  type InProcessHubOptions,
} from "./transports/in-process-hub.ts";
