import { LOCAL } from "../announced.ts";
import type { Message } from "../message.ts";
import type { Provider } from "../registry.ts";
import { Response, type TriedNode } from "../response.ts";
import { attemptMeta, type Caller, callMeta, checkTimeout, type DispatchOptions, noProvider, stamp } from "./caller.ts";
import { nextAttempt, type Outcome, resolveOutcome } from "./outcome.ts";

/**
 * What `node.authorized(msg)` answers: the router's verdict (`true` / `false`), `"service_unavailable"` when
 * nobody offers the service, or, when the provider could not be asked at all (so there is no verdict),
 * `"service_timeout"` (no answer within the timeout) or `"unreachable"` (it left, its transport dropped or
 * failed, or the request could not be sent).
 *
 * @example
 * const answer = await node.authorized(msg);
 * if (answer === "service_timeout" || answer === "unreachable") retryLater(); // not a denial
 */
export type AuthorizedAnswer = boolean | "service_unavailable" | "service_timeout" | "unreachable";

/** The one provider of a service registered here: a local provider always wins. */
const LOCAL_ONLY: readonly Provider[] = Object.freeze([Object.freeze({ node: LOCAL, router: "" })]);

/**
 * `node.dispatch`: finds the providers (the local one alone when there is one), orders the remote ones,
 * and tries them in turn while they answer `try_another_node` or fail (left, unreachable); each attempt
 * starts from the message as sent, in a span of its own. Telemetry metadata is built only when someone
 * listens: it is most of the cost of a fast local call.
 */
export async function dispatch(caller: Caller, message: Message, options: DispatchOptions = {}): Promise<Message> {
  if (message.halted) return message;
  caller.assertOpen();
  const timeoutMs = checkTimeout(options.timeoutMs, caller.timeoutMs);
  const { clock, telemetry, registry } = caller;
  const startedAt = clock.now();
  const sent = stamp(caller.nodeId, message, startedAt);
  const meta = telemetry.active ? callMeta(caller.nodeId, sent, message) : undefined;
  if (meta) telemetry.emit("discovering_service", { start: startedAt, monoStart: startedAt }, meta);

  const local = registry.localService(sent.serviceName);
  if (local && !meta) {
    // The common case, a local provider and nobody listening: one attempt and nothing to record.
    const attempt = caller.local.invoke(local, sent, timeoutMs);
    const outcome = attempt instanceof Promise ? await attempt : attempt;
    const resolved = resolveOutcome(sent, outcome, timeoutMs);
    const declined = declinedBy(outcome, resolved);
    if (declined === undefined) return resolved;
    return sent.return(Response.noNodesAvailable([{ node: LOCAL, reason: declined.reason }]));
  }
  const found = local ? LOCAL_ONLY : registry.findProviders(sent.serviceName);
  if (found.length === 0) return sent.return(noProvider(caller, sent, startedAt, meta));
  const providers = found.length > 1 ? (options.nodeOrder ?? caller.nodeOrder)(found as Provider[], sent) : found;
  const tried: TriedNode[] = [];
  for (let i = 0; i < providers.length; i++) {
    const provider = providers[i] as Provider;
    // The first attempt's span id is already in `sent`.
    const sentNow = i === 0 ? sent : nextAttempt(sent);
    const serviceMeta = meta && attemptMeta(meta, sentNow, provider.node);
    const invokedAt = serviceMeta ? clock.now() : 0;
    if (serviceMeta) {
      telemetry.emit("service_found", { time: invokedAt, duration: invokedAt - startedAt }, serviceMeta);
      telemetry.emit("invoking_service", { start: invokedAt, monoStart: invokedAt }, serviceMeta);
    }
    const attempt =
      provider.node === LOCAL
        ? caller.local.invoke(local, sentNow, timeoutMs)
        : caller.remote.invoke(provider.node, sentNow, { op: "invoke", timeoutMs });
    const outcome = attempt instanceof Promise ? await attempt : attempt;
    const resolved = resolveOutcome(sentNow, outcome, timeoutMs);
    if (serviceMeta) {
      const time = clock.now();
      telemetry.emit("service_responded", { time, duration: time - invokedAt }, { ...serviceMeta, message: resolved });
    }
    const declined = declinedBy(outcome, resolved);
    if (declined === undefined) return resolved;
    tried.push({ node: provider.node, reason: declined.reason });
  }
  return sent.return(Response.noNodesAvailable(tried));
}

/** Why a provider sends the call on to the next one (it failed, or asked for another node), if it does. */
function declinedBy(outcome: Outcome, resolved: Message): { readonly reason: unknown } | undefined {
  if (outcome.kind === "failed") return { reason: outcome.reason };
  const response = resolved.response;
  return response?.status === "try_another_node" ? { reason: response.reason } : undefined;
}

/**
 * `node.authorized`: asks the first provider's router. Only a verdict is `true` / `false`: a provider that
 * could not be asked answers `"service_timeout"` or `"unreachable"`, never a denial.
 */
export async function authorized(
  caller: Caller,
  message: Message,
  options: DispatchOptions = {},
): Promise<AuthorizedAnswer> {
  caller.assertOpen();
  const timeoutMs = checkTimeout(options.timeoutMs, caller.timeoutMs);
  const { clock, telemetry, registry, nodeId } = caller;
  const now = clock.now();
  const sent = message.with({ invokedAt: now, originNode: message.originNode ?? nodeId });
  telemetry.emit(
    "checking_if_service_call_is_authorized",
    { start: now, monoStart: now },
    { message: sent, callerNode: nodeId },
  );
  const [first] = registry.findProviders(sent.serviceName);
  if (!first) {
    noProvider(caller, sent, now, undefined);
    return "service_unavailable";
  }
  if (first.node === LOCAL) {
    const local = registry.localService(sent.serviceName);
    return local ? local.router.authorized(sent) : "service_unavailable";
  }
  const outcome = await caller.remote.invoke(first.node, sent, { op: "authorize", timeoutMs });
  if (outcome.kind === "timeout") return "service_timeout";
  if (outcome.kind !== "reply") return "unreachable";
  const { response } = outcome.message;
  if (response?.status === "service_unavailable") return "service_unavailable";
  // Anything but the peer's `ok` verdict (e.g. an error because its answer could not be sent) is no verdict.
  return response?.status === "ok" ? response.payload === true : "unreachable";
}
