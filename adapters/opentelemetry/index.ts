/**
 * `x3m-system/opentelemetry`: the SDK's spans recorded through an OpenTelemetry tracer, and trace
 * context carried from the app's active span into messages and from messages into their handlers.
 * Needs `@opentelemetry/api` (an optional peer dependency).
 * @module x3m-system/opentelemetry
 */
export { createIdGenerator, type IdGenerator } from "./id-generator.ts";
export { stampTraceparent, withMessageContext } from "./propagation.ts";
export { type RecordSpansOptions, recordSpans } from "./record-spans.ts";
