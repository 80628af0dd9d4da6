import type { Clock } from "./clock.ts";
import { runWithLogContext } from "./log-context.ts";
import { childTraceparent, newTraceparent, spanIdOf } from "./mesh/trace-context.ts";
import { Message } from "./message.ts";
import type { LocalService } from "./registry.ts";
import {
  type Authorization,
  authorizationOf,
  type HandlerResult,
  type NoReply,
  nodeChoiceOf,
  noReply,
} from "./router.ts";
import type { Telemetry } from "./telemetry.ts";

/** What serving a call needs from the node it runs on. */
export interface ServeContext {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  /** Runs the call on another node (a router's `chooseNode` picked it) and returns that node's reply. */
  forward(node: string, message: Message): Promise<Message | NoReply>;
}

/** A serve result: synchronous when every user callback on the way was. */
export type Served = Message | NoReply | Promise<Message | NoReply>;

/** JSON-safe description of something a handler threw. */
export function describeError(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: "Error", message: String(error) };
}

/** A reply never carries `request`; it carries `events` only for a verbose dry run (reference §3.4). */
export function stripReply(reply: Message): Message {
  const keepEvents = reply.dryRun === "verbose";
  if (reply.request === undefined && (keepEvents || reply.events.length === 0)) return reply;
  return reply.with({ request: undefined, ...(keepEvents ? {} : { events: [] }) });
}

/** Continues with `next` now for a plain value, or after the promise settles. */
function andThen<TValue, TResult>(
  value: TValue | Promise<TValue>,
  next: (value: TValue) => TResult | Promise<TResult>,
) {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** How a call reached `serve`. */
export interface ServeOptions {
  /** A router's `chooseNode` on another node already chose this one: run it here. */
  readonly forwarded?: boolean;
  /** The request came from a peer: the handler runs in a new (server) span. */
  readonly remote?: boolean;
  /** Called once the call is authorized and about to run (or be forwarded): a cast's acknowledgement. */
  readonly onAccepted?: () => void;
}

/**
 * The provider side of a call (reference §3.3-3.4): authorize (deny by default), let the router choose
 * the node, run the handler, strip the reply; the message's log context is re-entered around each user
 * callback. A throwing handler becomes an `error` response: nothing here can leave the caller hanging
 * but `noReply`. Stays synchronous while the user's callbacks are, so a fast local call costs no promise hops.
 */
export function serve(
  service: LocalService,
  message: Message,
  context: ServeContext,
  options: ServeOptions = {},
): Served {
  const { router, entry } = service;
  const { telemetry } = context;
  if (telemetry.active) {
    const metadata = { service: entry.name, visibility: entry.visibility, originNode: message.originNode };
    telemetry.emit("service_request_received", {}, metadata);
  }
  const authorization = runWithLogContext(message.logContext, () => authorizationOf(router.definition, message));
  return andThen(authorization, (result: Authorization): Served => {
    if (!result.allowed) return stripReply(message.error(result.reason));
    const remote = options.remote === true;
    if (options.forwarded) {
      options.onAccepted?.();
      return execute(service, message, context, remote);
    }
    let choice: string | Promise<string>;
    try {
      choice = runWithLogContext(message.logContext, () => nodeChoiceOf(router.definition, message));
    } catch (error) {
      return stripReply(message.error({ exception: describeError(error) }));
    }
    const route = (target: string): Served => {
      options.onAccepted?.();
      return target === "local" || target === context.nodeId
        ? execute(service, message, context, remote)
        : context.forward(target, message);
    };
    return choice instanceof Promise
      ? choice.then(route, (error) => stripReply(message.error({ exception: describeError(error) })))
      : route(choice);
  });
}

/** A peer's request runs in its own server span, a child of the caller's attempt span (or a new trace). */
function serverSpan(received: Message): Message {
  const parent = received.traceparent;
  return received.with({ traceparent: parent === undefined ? newTraceparent() : childTraceparent(parent) });
}

function execute(service: LocalService, received: Message, context: ServeContext, remote: boolean): Served {
  const { clock, telemetry, nodeId } = context;
  const { name } = service.entry;
  const message = remote ? serverSpan(received) : received;
  // Span ids in the metadata let a span recorder pair the start and the end of a peer's request.
  const spanId = remote && telemetry.active ? spanIdOf(message.traceparent as string) : undefined;
  const start = telemetry.active ? clock.now() : 0;
  if (telemetry.active) {
    const parentSpanId = received.traceparent === undefined ? undefined : spanIdOf(received.traceparent);
    const metadata = spanId
      ? { node: nodeId, service: name, message, spanId, parentSpanId }
      : { node: nodeId, service: name };
    telemetry.emit("executing_service", { start, monoStart: start }, metadata);
  }

  const failed = (error: unknown): Message => {
    telemetry.emit("handler_failed", {}, { service: name, error: describeError(error), message });
    return message.error({ exception: describeError(error) });
  };
  const finish = (result: HandlerResult): Message | NoReply => {
    if (result === noReply) return noReply;
    if (!(result instanceof Message)) {
      const error = { name: "TypeError", message: "handler returned neither a Message nor noReply" };
      telemetry.emit("handler_failed", {}, { service: name, error, message });
      return stripReply(message.error("invalid_handler_result"));
    }
    const reply = stripReply(result);
    if (telemetry.active) {
      const time = clock.now();
      telemetry.emit(
        "execution_finished",
        { time, duration: time - start },
        spanId ? { message: reply, spanId } : { message: reply },
      );
    }
    return reply;
  };

  let result: HandlerResult | Promise<HandlerResult>;
  try {
    result = runWithLogContext(message.logContext, () => service.entry.handler(message));
  } catch (error) {
    return finish(failed(error));
  }
  return result instanceof Promise ? result.then(finish, (error) => finish(failed(error))) : finish(result);
}
