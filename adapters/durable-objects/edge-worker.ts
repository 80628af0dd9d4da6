import { type EdgeWorkerOptions, errorResponse, resolveEdgeOptions } from "./edge-options.ts";
import { handleDispatch } from "./http-endpoint.ts";
import { handleSync } from "./sync-endpoint.ts";
import { handleTicket, handleWebSocket } from "./websocket-endpoint.ts";

/**
 * The edge Worker's fetch handler: an HTTP endpoint that dispatches one message, a WebSocket endpoint
 * where the Worker is a node speaking transport frames, and the offline-sync endpoints. Every request is
 * authenticated before anything in it is parsed.
 *
 * @example
 * import { createEdgeWorker, aggregateServices, defineAggregateObject } from "x3m-system/durable-objects";
 * export const AccountObject = defineAggregateObject(account);
 * export default createEdgeWorker({
 *   routers: (env) => [defineRouter({ name: "accounts", services: { open: aggregateServices(env.ACCOUNTS, account).onNew("open") }, authorize })],
 *   authenticate: async (request, env) => verifyToken(request.headers.get("authorization"), env),
 * });
 */
export function createEdgeWorker<TEnv = Cloudflare.Env>(options: EdgeWorkerOptions<TEnv>) {
  const resolved = resolveEdgeOptions(options);
  return {
    /** Serves the edge's endpoints (dispatch, WebSocket and its tickets, sync) by path, and 404 for any other path. */
    async fetch(request: Request, env: TEnv): Promise<Response> {
      const { pathname } = new URL(request.url);
      if (pathname === resolved.paths.dispatch) return handleDispatch(request, env, resolved);
      if (pathname === resolved.paths.websocket) return handleWebSocket(request, env, resolved);
      if (pathname === `${resolved.paths.websocket}/ticket`) return handleTicket(request, env, resolved);
      if (pathname.startsWith(`${resolved.paths.sync}/`)) return handleSync(request, env, resolved);
      return errorResponse(404, "NOT_FOUND", `no x3m endpoint at ${pathname}`);
    },
  };
}
