import { LOCAL } from "./announced.ts";
import type { Clock } from "./clock.ts";
import { describeError } from "./errors.ts";
import { callInLogContext, runWithLogContext } from "./log-context.ts";
import { type Logger, logTo } from "./logger.ts";
import { childTraceparent, newTraceparent, spanIdOf } from "./mesh/trace-context.ts";
import { inSpan, Message } from "./message.ts";
import type { LocalService } from "./registry.ts";
import { Response } from "./response.ts";
import {
  type Authorization,
  authorizationOf,
  type HandlerResult,
  type NoReply,
  nodeChoiceOf,
  noReply,
  type ServiceHandler,
} from "./router.ts";
import type { Telemetry } from "./telemetry.ts";

/** What serving a call needs from the node it runs on. */
export interface ServeContext {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  /** Runs the call on another node (a router's `chooseNode` picked it) and returns that node's reply. */
  forward(node: string, message: Message): Promise<Message | NoReply>;
}

/** A serve result: synchronous when every user callback on the way was. */
export type Served = Message | NoReply | Promise<Message | NoReply>;

/** A reply never carries `request`; it carries `events` only for a verbose dry run (as the original does). */
export function stripReply(reply: Message): Message {
  const keepEvents = reply.dryRun === "verbose";
  if (reply.request === undefined && (keepEvents || reply.events.length === 0)) return reply;
  return reply.with({ request: undefined, ...(keepEvents ? {} : { events: [] }) });
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

const LOCAL_CALL: ServeOptions = Object.freeze({});

/**
 * The provider side of a call, as the original serves it: authorize (deny by default), let the router choose
 * the node, run the handler, strip the reply; the message's log context is re-entered around each user
 * callback. A throwing handler becomes an `error` response: nothing here can leave the caller hanging
 * but `noReply`. Stays synchronous while the user's callbacks are, so a fast local call costs no promise
 * hop, and allocates no closure on the way but the ones that enter the log context.
 */
export function serve(
  service: LocalService,
  message: Message,
  context: ServeContext,
  options: ServeOptions = LOCAL_CALL,
): Served {
  const { telemetry } = context;
  if (telemetry.active) {
    const { entry } = service;
    const metadata = { service: entry.name, visibility: entry.visibility, originNode: message.originNode };
    telemetry.emit("service_request_received", {}, metadata);
  }
  const { definition } = service.router;
  const authorization = callInLogContext(message.logContext, authorizationOf, definition, message);
  return authorization instanceof Promise
    ? authorization.then((result) => authorized(service, message, context, options, result))
    : authorized(service, message, context, options, authorization);
}

/** After `authorize`: deny, or let the router choose the node (unless a peer's router already chose this one). */
function authorized(
  service: LocalService,
  message: Message,
  context: ServeContext,
  options: ServeOptions,
  result: Authorization,
): Served {
  // Marked, so a denial reads as one whatever its reason (the edge answers it 403).
  if (!result.allowed) return stripReply(message.return(Response.denied(result.reason)));
  const { definition } = service.router;
  if (options.forwarded || definition.chooseNode === undefined) return route(service, message, context, options, LOCAL);
  let choice: string | Promise<string>;
  try {
    choice = runWithLogContext(message.logContext, () => nodeChoiceOf(definition, message));
  } catch (error) {
    return stripReply(message.error({ exception: describeError(error) }));
  }
  return choice instanceof Promise
    ? choice.then(
        (target) => route(service, message, context, options, target),
        (error) => stripReply(message.error({ exception: describeError(error) })),
      )
    : route(service, message, context, options, choice);
}

function route(service: LocalService, message: Message, context: ServeContext, options: ServeOptions, target: string) {
  options.onAccepted?.();
  return target === LOCAL || target === context.nodeId
    ? execute(service, message, context, options.remote === true)
    : context.forward(target, message);
}

/** A peer's request runs in its own server span, a child of the caller's attempt span (or a new trace). */
function serverSpan(received: Message): Message {
  const parent = received.traceparent;
  return inSpan(received, parent === undefined ? newTraceparent() : childTraceparent(parent));
}

/** What finishing a handler's run needs to know about it. */
interface Run {
  readonly context: ServeContext;
  readonly name: string;
  readonly message: Message;
  readonly start: number;
  /** The server span of a peer's request, when someone listens. */
  readonly spanId: string | undefined;
}

function execute(service: LocalService, received: Message, context: ServeContext, remote: boolean): Served {
  const { clock, telemetry, nodeId } = context;
  const { name, handler } = service.entry;
  const message = remote ? serverSpan(received) : received;
  let start = 0;
  let spanId: string | undefined;
  if (telemetry.active) {
    start = clock.now();
    // Span ids in the metadata let a span recorder pair the start and the end of a peer's request.
    if (remote) spanId = spanIdOf(message.traceparent as string);
    const parentSpanId = received.traceparent === undefined ? undefined : spanIdOf(received.traceparent);
    const metadata = spanId
      ? { node: nodeId, service: name, message, spanId, parentSpanId }
      : { node: nodeId, service: name };
    telemetry.emit("executing_service", { start, monoStart: start }, metadata);
  }
  let result: HandlerResult | Promise<HandlerResult>;
  try {
    result = callInLogContext(message.logContext, runHandler, handler, message);
  } catch (error) {
    return finish({ context, name, message, start, spanId }, failed(context, name, message, error));
  }
  if (result instanceof Promise) {
    const run: Run = { context, name, message, start, spanId };
    return result.then(
      (value) => finish(run, value),
      (error) => finish(run, failed(context, name, message, error)),
    );
  }
  // The common case, a synchronous reply, skips building the `Run`.
  return result instanceof Message && !telemetry.active
    ? stripReply(result)
    : finish({ context, name, message, start, spanId }, result);
}

function runHandler(handler: ServiceHandler, message: Message): HandlerResult | Promise<HandlerResult> {
  return handler(message);
}

function failed(context: ServeContext, name: string, message: Message, error: unknown): Message {
  const exception = describeError(error);
  context.telemetry.emit("handler_failed", {}, { service: name, error: exception, message });
  logTo(context.logger, "error", "handler_failed", `service ${name} threw: ${exception.message}`, {
    context: message.logContext,
    data: { service: name, node: context.nodeId, messageId: message.id, error: exception },
  });
  return message.error({ exception });
}

function finish(run: Run, result: HandlerResult): Message | NoReply {
  const { context, name, message } = run;
  const { telemetry } = context;
  if (result === noReply) return noReply;
  if (!(result instanceof Message)) {
    const error = { name: "TypeError", message: "handler returned neither a Message nor noReply" };
    telemetry.emit("handler_failed", {}, { service: name, error, message });
    logTo(context.logger, "error", "handler_failed", `service ${name} returned neither a Message nor noReply`, {
      context: message.logContext,
      data: { service: name, node: context.nodeId, messageId: message.id, error },
    });
    return stripReply(message.error("invalid_handler_result"));
  }
  const reply = stripReply(result);
  if (telemetry.active) {
    const time = context.clock.now();
    const { spanId } = run;
    telemetry.emit(
      "execution_finished",
      { time, duration: time - run.start },
      spanId ? { message: reply, spanId } : { message: reply },
    );
  }
  return reply;
}
