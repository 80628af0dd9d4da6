import type { Clock } from "../clock.ts";
import type { SdkClientError } from "../errors.ts";
import { childTraceparent } from "../mesh/trace-context.ts";
import { inSpan, type Message } from "../message.ts";
import { Response } from "../response.ts";

/** How one attempt at one provider ended. */
export type Outcome =
  | { readonly kind: "reply"; readonly message: Message }
  /** A cast was authorized and started (no reply follows). */
  | { readonly kind: "accepted" }
  | { readonly kind: "timeout" }
  /** The provider could not be asked or left before answering: the next provider may be tried. */
  | { readonly kind: "failed"; readonly reason: unknown }
  /** The request could not even be encoded (too large, not JSON): a final answer for the caller. */
  | { readonly kind: "rejected"; readonly error: SdkClientError };

/** An attempt's outcome: already there when everything on the way was synchronous. */
export type Attempt = Outcome | Promise<Outcome>;

/** Resolves with the first outcome `start` settles, or `timeout` after `timeoutMs` (`Infinity`: no timer). */
export function raceTimeout(
  clock: Clock,
  timeoutMs: number,
  start: (settle: (outcome: Outcome) => void, isSettled: () => boolean) => void,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let cancelTimer: (() => void) | undefined;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      cancelTimer?.();
      resolve(outcome);
    };
    if (timeoutMs !== Number.POSITIVE_INFINITY) {
      cancelTimer = clock.setTimeout(() => settle({ kind: "timeout" }), timeoutMs);
    }
    start(settle, () => settled);
  });
}

/** The caller's view of an attempt's outcome, as a resolved message. */
export function resolveOutcome(sent: Message, outcome: Outcome, timeoutMs: number): Message {
  switch (outcome.kind) {
    case "reply":
      // The reply carries the attempt's trace context, not the provider's.
      return outcome.message.traceparent === sent.traceparent
        ? outcome.message
        : inSpan(outcome.message, sent.traceparent);
    case "accepted":
    case "failed":
      return sent;
    case "timeout":
      return sent.return(Response.serviceTimeout(sent.serviceName, sent.id, timeoutMs));
    case "rejected":
      return sent.error({ code: outcome.error.code, message: outcome.error.message });
  }
}

/** The message of a further attempt: as sent (never an earlier attempt's reply), in a span of its own. */
export function nextAttempt(sent: Message): Message {
  return inSpan(sent, childTraceparent(sent.traceparent as string));
}
