import {
  type Message,
  type ResponseStatus,
  type SdkClientError,
  SdkErrorCode,
  Response as X3mResponse,
} from "../../src/index.ts";
import { clientMessage } from "./client-message.ts";
import { edgeNode } from "./edge-node.ts";
import { errorResponse, type Principal, type ResolvedEdgeOptions } from "./edge-options.ts";
import { admitJsonRequest } from "./edge-request.ts";

// Exhaustive over the statuses: a new status in the core fails to compile here until it is mapped.
const HTTP_STATUS: Readonly<Record<ResponseStatus, number>> = {
  ok: 200,
  created: 201,
  validation_error: 422,
  missing_id: 422,
  not_found: 404,
  unauthorized: 403,
  error: 400,
  wrong_expected_version: 409,
  already_exists: 409,
  service_unavailable: 503,
  no_nodes_available: 503,
  try_another_node: 503,
  service_timeout: 504,
};

/**
 * The HTTP status of a resolved message's response, as the dispatch endpoint answers it (the mapping of
 * X3m.System's example web app, extended). `ok` is 200, or 204 when it carries neither `payload` nor `version` (there is
 * nothing to show, so the endpoint sends no body); `error` is 403 for a router's denial (marked
 * `denied: true`, whatever its reason) and for the reason `"forbidden"`, 503 for a storage failure in the
 * object (`load_failed`, `save_failed`: nothing changed, send it again), 400 for any other error;
 * `service_unavailable` is 404 when the edge never heard of the service (`unknown: true`: a mistyped
 * name, not worth retrying) and 503 otherwise (known, no provider now: retry later); `null` (no answer at
 * all) is 500.
 *
 * @example
 * import { httpStatusOf } from "x3m-system/durable-objects";
 * httpStatusOf({ status: "created", id: "acc-1", version: 0 }); // 201
 * httpStatusOf({ status: "error", reason: "login required", denied: true }); // 403
 * httpStatusOf({ status: "service_unavailable", service: "depsit", unknown: true }); // 404
 */
export function httpStatusOf(response: X3mResponse | null): number {
  if (response === null) return 500;
  if (X3mResponse.isDenied(response) || X3mResponse.isForbidden(response)) return 403;
  if (X3mResponse.isUnknownService(response)) return 404;
  // The object's storage failed: nothing changed; a server-side failure the client may retry as it is.
  if (X3mResponse.isStorageFailure(response)) return 503;
  if (X3mResponse.isOk(response) && response.payload === undefined && response.version === undefined) return 204;
  // `?? 400`: a hand-made response with an unknown status is still an error, never a success.
  return HTTP_STATUS[response.status] ?? 400;
}

/**
 * `POST <paths.dispatch>`: one message envelope in, the resolved one out, with `httpStatusOf` as the
 * HTTP status. In order: the method (405), `authenticate` (401; nothing of the request but the method
 * has been looked at, the body is unread), the content type (415), the body size, declared and counted
 * while reading (413), then JSON without prototype keys and the zod-validated envelope (400: a request,
 * not halted and without a response). The edge then replaces the client's assigns with the trusted ones
 * plus `principal`, drops client-sent events, answers a private service as unknown (404) and dispatches.
 * The answer omits `request` and `assigns`: the principal and whatever the pipeline assigned stay inside.
 *
 * @example
 * // what createEdgeWorker does for `POST /x3m/dispatch`
 * if (pathname === options.paths.dispatch) return handleDispatch(request, env, resolveEdgeOptions(options));
 */
export async function handleDispatch<TEnv>(
  request: Request,
  env: TEnv,
  options: ResolvedEdgeOptions<TEnv>,
): Promise<Response> {
  const admitted = await admitJsonRequest(request, env, options, options.maxBodyBytes);
  if (!admitted.ok) return admitted.response;
  return dispatchEnvelope(admitted.value.body, admitted.value.principal, env, options);
}

/** Validates the envelope into the edge's message, dispatches it and answers the resolved message. */
async function dispatchEnvelope<TEnv>(
  envelope: unknown,
  principal: Principal,
  env: TEnv,
  options: ResolvedEdgeOptions<TEnv>,
): Promise<Response> {
  let node: ReturnType<typeof edgeNode> | undefined;
  try {
    node = edgeNode(env, options);
    const prepared = clientMessage(envelope, { principal, trustedAssigns: options.trustedAssigns, node });
    if (!prepared.ok) return invalidMessage(prepared.error);
    return resolvedAnswer(await node.dispatch(prepared.value, { timeoutMs: options.timeoutMs }));
  } catch (error) {
    // Only the app's wiring can throw here (`routers(env)`, a duplicate service): log it, answer no details.
    console.error("x3m dispatch endpoint failed", error);
    return errorResponse(500, "INTERNAL_ERROR", "the edge could not handle the message");
  } finally {
    await node?.close();
  }
}

/** 400 with the validation issues (when there are any) in `error.details`. */
function invalidMessage(error: SdkClientError): Response {
  const code = error.code === SdkErrorCode.FORBIDDEN_KEY ? error.code : SdkErrorCode.INVALID_MESSAGE;
  const details = error.details === undefined ? {} : { details: error.details };
  return Response.json({ error: { code, message: error.message, ...details } }, { status: 400 });
}

/** The resolved message without `request` and `assigns` (they stay on the edge); 204 has no body. */
function resolvedAnswer(resolved: Message): Response {
  const status = httpStatusOf(resolved.response);
  if (status === 204) return new Response(null, { status });
  const { request: _request, assigns: _assigns, ...answer } = resolved.toJSON();
  return Response.json(answer, { status });
}
