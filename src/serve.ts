import type { Clock } from "./clock.ts";
import { runWithLogContext } from "./log-context.ts";
import { Message } from "./message.ts";
import type { LocalService } from "./registry.ts";
import { type NoReply, noReply } from "./router.ts";
import type { Telemetry } from "./telemetry.ts";

/** What serving a call needs from the node it runs on. */
export interface ServeContext {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  /** Runs the call on another node (a router's `chooseNode` picked it) and returns that node's reply. */
  forward(node: string, message: Message): Promise<Message | NoReply>;
}

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

/**
 * The provider side of a call (reference §3.3-3.4): re-enter the message's log context, authorize
 * (deny by default), let the router choose the node, run the handler, strip the reply.
 * A throwing handler becomes an `error` response; nothing here can leave the caller hanging but `noReply`.
 */
export async function serve(
  service: LocalService,
  message: Message,
  context: ServeContext,
  options: { forwarded?: boolean } = {},
): Promise<Message | NoReply> {
  const { router, entry } = service;
  const { telemetry } = context;
  if (telemetry.active) {
    telemetry.emit(
      "service_request_received",
      {},
      { service: entry.name, visibility: entry.visibility, originNode: message.originNode },
    );
  }
  // The log context is re-entered around each user callback: a synchronous storage only covers the
  // callback's synchronous part, an AsyncLocalStorage-backed one follows its awaits too.
  const authorization = await runWithLogContext(message.logContext, () => router.authorize(message));
  if (!authorization.allowed) return stripReply(message.error(authorization.reason));
  if (!options.forwarded) {
    let target: string;
    try {
      target = await runWithLogContext(message.logContext, () => router.chooseNode(message));
    } catch (error) {
      return stripReply(message.error({ exception: describeError(error) }));
    }
    if (target !== "local" && target !== context.nodeId) return context.forward(target, message);
  }
  return execute(service, message, context);
}

async function execute(service: LocalService, message: Message, context: ServeContext): Promise<Message | NoReply> {
  const { clock, telemetry, nodeId } = context;
  const start = clock.now();
  if (telemetry.active) {
    telemetry.emit("executing_service", { start, monoStart: start }, { node: nodeId, service: service.entry.name });
  }
  let result: unknown;
  try {
    result = await runWithLogContext(message.logContext, () => service.entry.handler(message));
  } catch (error) {
    telemetry.emit("handler_failed", {}, { service: service.entry.name, error: describeError(error), message });
    result = message.error({ exception: describeError(error) });
  }
  if (result === noReply) return noReply;
  if (!(result instanceof Message)) {
    telemetry.emit(
      "handler_failed",
      {},
      {
        service: service.entry.name,
        error: { name: "TypeError", message: "handler returned neither a Message nor noReply" },
        message,
      },
    );
    result = message.error("invalid_handler_result");
  }
  const reply = stripReply(result as Message);
  if (telemetry.active) {
    const time = clock.now();
    telemetry.emit("execution_finished", { time, duration: time - start }, { message: reply });
  }
  return reply;
}
