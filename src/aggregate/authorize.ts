import type { Message } from "../message.ts";
import { Response } from "../response.ts";
import { type Authorization, authorizationOf } from "../router.ts";
import type { AnyAggregate } from "./types.ts";

const toDenial = (verdict: Authorization): Response | undefined =>
  verdict.allowed ? undefined : Response.denied(verdict.reason);

/**
 * The aggregate's own `authorize` on `state`, decided as a router's is (a throw or rejection denies;
 * `false`, `null` and `undefined` deny as `"forbidden"`), but allowed when the aggregate has none: the
 * router in front has already decided. Answers `undefined` when allowed, else the denial (marked
 * `denied`); synchronous when `authorize` is. The host and the offline client's rebase both ask it, so a
 * command re-run in the browser is refused exactly as the host refuses it.
 *
 * @example
 * const denied = await aggregateDenial(account, msg, state);
 * if (denied) return msg.return(denied);
 */
export function aggregateDenial(
  aggregate: AnyAggregate,
  message: Message,
  state: unknown,
): Response | undefined | Promise<Response | undefined> {
  const { authorize } = aggregate;
  if (!authorize) return undefined;
  const verdict = authorizationOf({ authorize: (msg) => authorize(msg, state) }, message);
  return verdict instanceof Promise ? verdict.then(toDenial) : toDenial(verdict);
}
