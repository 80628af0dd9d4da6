import { type Result, SdkClientError, SdkErrorCode } from "./errors.ts";
import { Message } from "./message.ts";

/** Who a request comes from, as the edge's `authenticate` established it; it goes into `assigns.principal`. */
export type Principal = Readonly<Record<string, unknown>>;

/**
 * The assigns a client's message runs with: only the `trusted` keys of what the client sent, then the
 * authenticated principal. Client assigns are otherwise never trusted (they could claim any principal).
 *
 * @example
 * import { clientAssigns } from "x3m-system";
 * clientAssigns({ principal: { admin: true }, locale: "fr" }, { user: "ada" }, ["locale"]); // { locale: "fr", principal: { user: "ada" } }
 */
export function clientAssigns(
  sent: Readonly<Record<string, unknown>> | undefined,
  principal: Principal,
  trusted: readonly string[],
): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const key of trusted) {
    if (sent && Object.hasOwn(sent, key)) kept[key] = sent[key];
  }
  return { ...kept, principal };
}

/**
 * The one check every door of an edge applies to a message a client sent (HTTP dispatch, a WebSocket
 * request, an offline-sync push): validated like any wire input, a request and not an answer (a client
 * cannot send a preset `response` or a halted message and get it back as the edge's answer), its assigns
 * replaced by the trusted ones plus the principal, without events (a client cannot append events) and
 * without an origin node. A refusal is an `INVALID_MESSAGE` (or `FORBIDDEN_KEY`) `SdkClientError`.
 *
 * @example
 * import { admitClientMessage } from "x3m-system";
 * const admitted = admitClientMessage(await request.json(), { principal, trustedAssigns: [] });
 * if (!admitted.ok) return Response.json({ error: { code: admitted.error.code } }, { status: 400 });
 */
export function admitClientMessage(
  input: unknown,
  context: { readonly principal: Principal; readonly trustedAssigns: readonly string[] },
): Result<Message> {
  const parsed =
    input instanceof Message ? { ok: true as const, value: Message.parse(input.toJSON()) } : Message.safeParse(input);
  if (!parsed.ok) return parsed;
  const message = parsed.value;
  if (message.halted || message.response !== null) {
    return {
      ok: false,
      error: new SdkClientError(SdkErrorCode.INVALID_MESSAGE, "a client sends requests: no response, not halted"),
    };
  }
  return {
    ok: true,
    value: message.with({
      assigns: clientAssigns(message.assigns, context.principal, context.trustedAssigns),
      events: [],
      originNode: null,
    }),
  };
}
