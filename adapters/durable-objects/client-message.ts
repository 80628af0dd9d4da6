import { admitClientMessage, type Message, Response, type Result, type SystemNode } from "../../src/index.ts";
import type { Principal } from "./edge-options.ts";

/**
 * Turns an envelope a client sent into the message the edge dispatches: the core's door check
 * (`admitClientMessage`: validated, a request and not an answer, trusted assigns plus the principal, no
 * events), and a private service of the edge node answered as unknown (already halted, so `dispatch`
 * returns it as is): it is unreachable from outside.
 */
export function clientMessage(
  input: unknown,
  context: { principal: Principal; trustedAssigns: readonly string[]; node: SystemNode },
): Result<Message> {
  const admitted = admitClientMessage(input, context);
  if (!admitted.ok) return admitted;
  const local = context.node.registry.localService(admitted.value.serviceName);
  if (local?.entry.visibility === "private") {
    return { ok: true, value: admitted.value.return(Response.unknownService(admitted.value.serviceName)) };
  }
  return admitted;
}
