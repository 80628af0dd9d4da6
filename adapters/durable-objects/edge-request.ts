import type { Principal, ResolvedEdgeOptions } from "./edge-options.ts";

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
