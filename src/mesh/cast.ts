import type { Message } from "../message.ts";
import type { Response } from "../response.ts";

/**
 * What `node.cast` resolves with. `accepted: true`: provider `node` (`"local"` or a peer id) authorized the
 * message and started it; its outcome is not awaited (a failure is reported as `cast_failed` on that node).
 * `accepted: false`: nobody took it, and `response` says why, in dispatch's terms: `service_unavailable`
 * (no provider), `no_nodes_available` (every provider declined or was gone, with `tried`), a refusal such as
 * `{ status: "error", reason: "forbidden" }`, or `service_timeout` (no acknowledgement in time: it may still run).
 *
 * @example
 * const result = await node.cast(Message.new("send_mail", { rawRequest: { to: "ada@example.com" } }));
 * if (!result.accepted) console.warn("not sent", result.response);
 */
export type CastResult =
  | { readonly accepted: true; readonly node: string }
  | { readonly accepted: false; readonly response: Response };

// A provider that declines (try_another_node, e.g. draining) or no longer has the service: try the next one.
const NEXT_PROVIDER: ReadonlySet<string> = new Set(["try_another_node", "service_unavailable"]);

/** @internal Whether a provider's refusal of a cast sends it on to the next provider. */
export function triesNextProvider(refusal: Message): boolean {
  return refusal.response !== null && NEXT_PROVIDER.has(refusal.response.status);
}

/** @internal Whether the reply of an accepted cast's handler is a failure to report (anything but ok/created). */
export function castFailed(reply: Message): boolean {
  const status = reply.response?.status;
  return status !== undefined && status !== "ok" && status !== "created";
}
