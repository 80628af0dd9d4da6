import {
  type Message,
  parseJsonSafely,
  type ResponseStatus,
  SdkClientError,
  SdkErrorCode,
  Response as X3mResponse,
} from "../../src/index.ts";
import { clientMessage } from "./client-message.ts";
import { edgeNode } from "./edge-node.ts";
import { errorResponse, type Principal, type ResolvedEdgeOptions } from "./edge-options.ts";
import { authenticate, readText } from "./edge-request.ts";

/** One step of handling a request: its value, or the answer that ends the request. */
type Step<T> = { ok: true; value: T } | { ok: false; response: Response };

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
 * The HTTP status of a resolved message's response, as the dispatch endpoint answers it (the original
 * example app's mapping). `ok` is 200, or 204 when it carries neither `payload` nor `version` (there is
 * nothing to show, so the endpoint sends no body); `error` is 403 for a router's denial (marked
 * `denied: true`, whatever its reason) and for the reason `"forbidden"`, 400 for any other error;
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
 * plus `principal`, drops client-sent events, answers a private service as unknown (503) and dispatches.
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
  if (request.method !== "POST") return methodNotAllowed();
  const principal = await authenticate(request, env, options);
  if (!principal) return errorResponse(401, "UNAUTHENTICATED", "authentication required");
  if (!isJson(request)) return errorResponse(415, "UNSUPPORTED_MEDIA_TYPE", "send application/json");
  const body = await readJson(request, options.maxBodyBytes);
  if (!body.ok) return body.response;
  return dispatchEnvelope(body.value, principal, env, options);
}

/** 405 with the `Allow` header HTTP requires. */
function methodNotAllowed(): Response {
  const response = errorResponse(405, "METHOD_NOT_ALLOWED", "only POST is accepted here");
  response.headers.set("Allow", "POST");
  return response;
}

/** `application/json`, with or without parameters such as `charset`. */
function isJson(request: Request): boolean {
  const mediaType = request.headers.get("content-type")?.split(";", 1)[0];
  return mediaType?.trim().toLowerCase() === "application/json";
}

/** The body as parsed JSON without prototype keys, or the refusal: 413 over the limit, 400 otherwise. */
async function readJson(request: Request, limitBytes: number): Promise<Step<unknown>> {
  // A declared length over the limit is refused unread; the count in readText covers bodies without one.
  const declared = Number(request.headers.get("content-length"));
  const text = declared > limitBytes ? null : await readText(request, limitBytes);
  if (text === null) {
    return { ok: false, response: errorResponse(413, "PAYLOAD_TOO_LARGE", `the body is over ${limitBytes} bytes`) };
  }
  try {
    return { ok: true, value: parseJsonSafely(text) };
  } catch (error) {
    const refused = SdkClientError.from(error);
    // parseJsonSafely also parses transport frames and says "frame"; here the frame is the body.
    const message = refused.message.replace(/\bframe\b/, "body");
    return { ok: false, response: invalidMessage(new SdkClientError(refused.code, message)) };
  }
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
