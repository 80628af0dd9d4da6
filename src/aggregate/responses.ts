import { type Response, Response as Responses } from "../response.ts";

/** Which service flavour ran the command: it changes how responses are mapped (reference §5.7). */
export type Flow = "existing" | "new";

/**
 * The original's response mapping, with versions: after a command, `ok` carries the aggregate's
 * version; `created` with the aggregate's own id carries it too; anything else is returned unchanged.
 * Hosts apply it to every command's answer (an offline client's local runs too).
 *
 * @example
 * import { mapResponse } from "x3m-system";
 * mapResponse({ status: "ok" }, "existing", "acc-1", 4); // { status: "ok", version: 4 }
 */
export function mapResponse(response: Response | null, flow: Flow, aggregateId: string, version: number): Response {
  if (response === null) return Responses.ok(undefined, version);
  if (response.status === "ok" && response.version === undefined) return Responses.ok(response.payload, version);
  if (
    flow === "new" &&
    response.status === "created" &&
    response.id === aggregateId &&
    response.version === undefined
  ) {
    return Responses.created(aggregateId, version);
  }
  return response;
}

/**
 * Whether a response reports success (`ok` or `created`; `null`, no answer yet, counts as success).
 *
 * @example
 * import { isSuccess } from "x3m-system";
 * isSuccess({ status: "validation_error", issues: [] }); // false
 */
export function isSuccess(response: Response | null): boolean {
  return response === null || response.status === "ok" || response.status === "created";
}
