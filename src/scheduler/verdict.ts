import type { Message } from "../message.ts";
import { Response } from "../response.ts";

/**
 * A retry, optionally after `retryInMs` (else the policy's backoff) and with `message` instead of the one
 * sent (the original's `{:retry, ms, message}`): its answer is cleared, its id is kept (the delivery's
 * idempotency key), and the pinned assigns (the principal) are applied again over it.
 *
 * @example
 * const verdict: RetryVerdict = { retryInMs: 60_000, message: resolved.assign("redelivered", true) };
 */
export interface RetryVerdict {
  readonly retryInMs?: number;
  readonly message?: Message;
}

/**
 * The judgement on one delivery:
 * - `"done"`: it succeeded; the alarm is forgotten (a repeating alarm's next occurrence is scheduled);
 * - `"retry"` or a `RetryVerdict`: try again; every retry counts towards `maxAttempts`, after which the
 *   alarm is a dead letter;
 * - `"failed"`: a final failure; the alarm goes to the dead letters at once, with the reply's response.
 *
 * @example
 * const verdict: DeliveryVerdict = resolved.response?.status === "not_found" ? "done" : "failed";
 */
export type DeliveryVerdict = "done" | "retry" | "failed" | RetryVerdict;

/**
 * What a reply means for a scheduled delivery: it `succeeded`, failed for a `transient` reason (no
 * provider answered: worth retrying), was `denied` by the router's `authorize`, or was `rejected` by the
 * service (a validation error, `not_found`, any other error).
 *
 * @example
 * if (deliveryOutcome(resolved.response) === "denied") alertSecurity(resolved);
 */
export type DeliveryOutcome = "succeeded" | "transient" | "denied" | "rejected";

const SUCCEEDED: ReadonlySet<string> = new Set(["ok", "created"]);
const TRANSIENT: ReadonlySet<string> = new Set([
  "service_unavailable",
  "service_timeout",
  "no_nodes_available",
  "try_another_node",
]);

/**
 * Whether `response` is a denial: `unauthorized`, any denial marked `denied: true` (a router's or an
 * aggregate's `authorize`, whatever its reason), or an `error` with the reason `"forbidden"`.
 *
 * @example
 * isDenial(Response.denied("login required")); // true
 */
export function isDenial(response: Response | null | undefined): boolean {
  return Response.isUnauthorized(response) || Response.isDenied(response) || Response.isForbidden(response);
}

/**
 * Classifies a delivery's reply (see `DeliveryOutcome`); no reply at all is `rejected`: nothing confirms it ran.
 *
 * @example
 * deliveryOutcome(Response.serviceUnavailable("deposit")); // "transient"
 */
export function deliveryOutcome(response: Response | null | undefined): DeliveryOutcome {
  if (response && SUCCEEDED.has(response.status)) return "succeeded";
  if (response && TRANSIENT.has(response.status)) return "transient";
  return isDenial(response) ? "denied" : "rejected";
}

/**
 * The default `serviceResponded`: `"done"` on success (`ok`, `created`), `"retry"` when no provider
 * answered (`service_unavailable`, `service_timeout`, `no_nodes_available`), `"failed"` for every other
 * answer (a denial, a validation error, `not_found`, an error), so a failure is never counted as done.
 *
 * @example
 * serviceResponded: (m) => (m.response?.status === "not_found" ? "done" : defaultServiceResponded(m)),
 */
export function defaultServiceResponded(resolved: Message): DeliveryVerdict {
  switch (deliveryOutcome(resolved.response)) {
    case "succeeded":
      return "done";
    case "transient":
      return "retry";
    default:
      return "failed";
  }
}
