import { LOCAL } from "../announced.ts";
import type { Message } from "../message.ts";
import {
  attemptMeta,
  type Caller,
  callMeta,
  checkTimeout,
  type DispatchOptions,
  noProvider,
  stamp,
} from "../node/caller.ts";
import { nextAttempt, resolveOutcome } from "../node/outcome.ts";
import type { Provider } from "../registry.ts";
import { Response, type TriedNode } from "../response.ts";

/**
 * What `node.cast` resolves with. `accepted: true`: provider `node` (`"local"` or a peer id) authorized the
 * message and started it; its outcome is not awaited (a failure is reported as `cast_failed` on that node).
 * `accepted: false`: nobody took it, and `response` says why, in dispatch's terms: `service_unavailable`
 * (no provider), `no_nodes_available` (every provider declined or was gone, with `tried`), a refusal such as
 * `{ status: "error", reason: "forbidden", denied: true }`, or `service_timeout` (no acknowledgement in time:
 * it may still run).
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

/** Whether a provider's refusal of a cast sends it on to the next provider. */
function triesNextProvider(refusal: Message): boolean {
  return refusal.response !== null && NEXT_PROVIDER.has(refusal.response.status);
}

/**
 * `node.cast` (Spawn's `invoke_async`): tries the providers as `dispatch` does, and stops at the first that
 * accepts (authorized and started). A provider that declines or is gone sends it on to the next; any other
 * refusal is final. Refusals emit `cast_rejected`.
 */
export async function cast(caller: Caller, message: Message, options: DispatchOptions = {}): Promise<CastResult> {
  if (message.halted) return { accepted: false, response: message.response ?? Response.error("halted") };
  caller.assertOpen();
  const timeoutMs = checkTimeout(options.timeoutMs, caller.timeoutMs);
  const { clock, telemetry, registry, nodeId } = caller;
  const startedAt = clock.now();
  const sent = stamp(nodeId, message, startedAt);
  const meta = telemetry.active ? { ...callMeta(nodeId, sent, message), cast: true } : undefined;
  if (meta) telemetry.emit("discovering_service", { start: startedAt, monoStart: startedAt }, meta);
  const found = registry.findProviders(sent.serviceName);
  const providers = found.length > 1 ? (options.nodeOrder ?? caller.nodeOrder)(found, sent) : found;
  const tried: TriedNode[] = [];
  let refusal: Response | undefined = found.length === 0 ? noProvider(caller, sent, startedAt, meta) : undefined;
  for (let i = 0; i < providers.length && !refusal; i++) {
    const provider = providers[i] as Provider;
    const sentNow = i === 0 ? sent : nextAttempt(sent);
    const serviceMeta = meta && attemptMeta(meta, sentNow, provider.node);
    const invokedAt = clock.now();
    if (serviceMeta) telemetry.emit("invoking_service", { start: invokedAt, monoStart: invokedAt }, serviceMeta);
    const attempt =
      provider.node === LOCAL
        ? caller.local.cast(registry.localService(sentNow.serviceName), sentNow, timeoutMs)
        : caller.remote.invoke(provider.node, sentNow, { op: "cast", timeoutMs });
    const outcome = attempt instanceof Promise ? await attempt : attempt;
    const resolved = resolveOutcome(sentNow, outcome, timeoutMs);
    if (serviceMeta) {
      const time = clock.now();
      const accepted = outcome.kind === "accepted";
      telemetry.emit(
        "service_responded",
        { time, duration: time - invokedAt },
        { ...serviceMeta, message: resolved, accepted },
      );
    }
    if (outcome.kind === "accepted") return { accepted: true, node: provider.node };
    if (outcome.kind === "failed") tried.push({ node: provider.node, reason: outcome.reason });
    else if (outcome.kind === "reply" && triesNextProvider(resolved)) {
      const response = resolved.response as Response;
      tried.push({ node: provider.node, reason: "reason" in response ? response.reason : response.status });
    } else refusal = resolved.response ?? Response.error("no_response");
  }
  const response = refusal ?? Response.noNodesAvailable(tried);
  const time = clock.now();
  telemetry.emit(
    "cast_rejected",
    { time, duration: time - startedAt },
    { message: sent, response, callerNode: nodeId },
  );
  return { accepted: false, response };
}
