import { type Response, Response as Responses } from "../response.ts";

/** Whether the command ran on an aggregate that exists (`"existing"`) or creates one (`"new"`): it changes how responses are mapped. */
export type Flow = "existing" | "new";

/**
 * The answer an aggregate host gives for a command's response (the original's mapping, with versions): a
 * missing response or an `ok` without a version becomes `ok` with the aggregate's `version`; on a new
 * aggregate, `created` with the aggregate's own id gets the version too; anything else is returned
 * unchanged. Hosts apply it to every command's answer (an offline client's local runs too): hosts of your
 * own use it to answer exactly as the aggregate host does.
 *
 * @example
 * import { mapResponse } from "x3m-system";
 * mapResponse({ status: "ok" }, "existing", "acc-1", 4); // { status: "ok", version: 4 }
 * mapResponse({ status: "created", id: "acc-1" }, "new", "acc-1", 0); // { status: "created", id: "acc-1", version: 0 }
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
