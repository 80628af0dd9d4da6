import { Message, Response, type Result, SdkClientError, SdkErrorCode, type SystemNode } from "../../src/index.ts";
import { edgeAssigns, type Principal } from "./edge-options.ts";

/**
 * Turns an envelope a client sent into the message the edge dispatches: validated (zod), a request and
 * not an answer, with the client's assigns reduced to the trusted ones plus the principal, and no events.
 * A private service of the edge node is answered as unknown (already halted, so `dispatch` returns it as
 * is): it is unreachable from outside.
 */
export function clientMessage(
  input: unknown,
  context: { principal: Principal; trustedAssigns: readonly string[]; node: SystemNode },
): Result<Message> {
  const parsed = Message.safeParse(input);
  if (!parsed.ok) return parsed;
  const message = parsed.value;
  if (message.halted || message.response !== null) {
    return {
      ok: false,
      error: new SdkClientError(SdkErrorCode.INVALID_MESSAGE, "a client sends requests: no response, not halted"),
    };
  }
  const edgeMessage = message.with({
    assigns: edgeAssigns(message.assigns, context.principal, context.trustedAssigns),
    events: [],
    originNode: null,
  });
  const local = context.node.registry.localService(message.serviceName);
  if (local?.entry.visibility === "private") {
    return { ok: true, value: edgeMessage.return(Response.unknownService(message.serviceName)) };
  }
  return { ok: true, value: edgeMessage };
}
