import { parseJsonSafely, SdkClientError, SdkErrorCode } from "../../src/index.ts";
import { errorResponse, type Principal, type ResolvedEdgeOptions } from "./edge-options.ts";

/** One step of handling a request: its value, or the answer that ends the request. */
export type Step<T> = { ok: true; value: T } | { ok: false; response: Response };

/** The principal, or null when `authenticate` refuses or throws (a failing backend never leaks as a 500). */
export async function authenticate<TEnv>(
  request: Request,
  env: TEnv,
  options: ResolvedEdgeOptions<TEnv>,
): Promise<Principal | null> {
  try {
    return await options.authenticate(request, env);
  } catch {
    return null;
  }
}

/**
 * The body as UTF-8 text, or null as soon as it grows past `limitBytes`: counted chunk by chunk, so a
 * chunked body (no `content-length`) is never buffered past the limit.
 */
export async function readText(request: Request, limitBytes: number): Promise<string | null> {
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const decoder = new TextDecoder();
  let bytes = 0;
  let text = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    bytes += chunk.value.byteLength;
    if (bytes > limitBytes) {
      await reader.cancel();
      return null;
    }
    text += decoder.decode(chunk.value, { stream: true });
  }
  return text + decoder.decode();
}

/** `application/json`, with or without parameters such as `charset`. */
function isJson(request: Request): boolean {
  const mediaType = request.headers.get("content-type")?.split(";", 1)[0];
  return mediaType?.trim().toLowerCase() === "application/json";
}

/**
 * The door of every JSON endpoint (dispatch and sync), checked in this order so that nothing of a request
 * is read before it is authenticated: the method (405, with `Allow`), `authenticate` (401), the content
 * type (415: `application/json` only, so a form or `text/plain` post that needs no CORS preflight is never
 * run), the body size, declared and counted while reading (413), then JSON without prototype keys or
 * hostile nesting (400 `INVALID_JSON` / `FORBIDDEN_KEY`).
 */
export async function admitJsonRequest<TEnv>(
  request: Request,
  env: TEnv,
  options: ResolvedEdgeOptions<TEnv>,
  limitBytes: number,
): Promise<Step<{ principal: Principal; body: unknown }>> {
  if (request.method !== "POST") {
    const response = errorResponse(405, "METHOD_NOT_ALLOWED", "only POST is accepted here");
    response.headers.set("Allow", "POST");
    return { ok: false, response };
  }
  const principal = await authenticate(request, env, options);
  if (!principal) return { ok: false, response: errorResponse(401, "UNAUTHENTICATED", "authentication required") };
  if (!isJson(request)) {
    return { ok: false, response: errorResponse(415, "UNSUPPORTED_MEDIA_TYPE", "send application/json") };
  }
  // A declared length over the limit is refused unread; the count in readText covers bodies without one.
  const declared = Number(request.headers.get("content-length"));
  const text = declared > limitBytes ? null : await readText(request, limitBytes);
  if (text === null) {
    return { ok: false, response: errorResponse(413, "PAYLOAD_TOO_LARGE", `the body is over ${limitBytes} bytes`) };
  }
  try {
    return { ok: true, value: { principal, body: parseJsonSafely(text) } };
  } catch (error) {
    const refused = SdkClientError.from(error);
    // parseJsonSafely also parses transport frames and says "frame"; here the frame is the body.
    const message = refused.message.replace(/\bframe\b/, "body");
    const code = refused.code === SdkErrorCode.FORBIDDEN_KEY ? "FORBIDDEN_KEY" : "INVALID_JSON";
    return { ok: false, response: errorResponse(400, code, message) };
  }
}
