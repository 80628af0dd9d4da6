import { CONNECTION_HEADERS } from "./connection-object.ts";
import { errorResponse, type Principal, type ResolvedEdgeOptions } from "./edge-options.ts";
import { admitJsonRequest, authenticate } from "./edge-request.ts";
import { stableJson } from "./stable-json.ts";
import { issueTicket, verifyTicket } from "./tickets.ts";

/** The principal of an upgrade: its ticket when it has one (browsers), else `authenticate` (headers). */
async function principalOf<TEnv>(
  request: Request,
  env: TEnv,
  options: ResolvedEdgeOptions<TEnv>,
): Promise<Principal | null> {
  const ticket = new URL(request.url).searchParams.get("ticket");
  if (ticket === null) return authenticate(request, env, options);
  if (!options.tickets) return null;
  return verifyTicket(ticket, options.tickets.secret(env), Date.now());
}

/**
 * `POST <paths.websocket>/ticket`: a short-lived ticket for the caller, who authenticated with headers.
 *
 * @example
 * const { ticket } = await (await fetch("/x3m/ws/ticket", { method: "POST", headers, body: "{}" })).json();
 * const socket = new WebSocket(`wss://app.example/x3m/ws?ticket=${encodeURIComponent(ticket)}`);
 */
export async function handleTicket<TEnv>(
  request: Request,
  env: TEnv,
  options: ResolvedEdgeOptions<TEnv>,
): Promise<Response> {
  if (!options.tickets) return errorResponse(404, "NOT_FOUND", "this edge issues no WebSocket tickets");
  const admitted = await admitJsonRequest(request, env, options, 1_024);
  if (!admitted.ok) return admitted.response;
  const ticket = await issueTicket(admitted.value.principal, options.tickets.secret(env), {
    now: Date.now(),
    ttlMs: options.tickets.ttlMs ?? 30_000,
  });
  return Response.json(ticket);
}

/**
 * The WebSocket endpoint: authenticates the upgrade (a ticket, or `authenticate` for clients that can send
 * headers) before anything else, then hands it to the connection object of the client's shard, which
 * accepts it with the Hibernation API (see `defineConnectionObject`). An unauthenticated client never
 * gets a socket.
 *
 * @example
 * // what createEdgeWorker does for `GET /x3m/ws`
 * if (pathname === options.paths.websocket) return handleWebSocket(request, env, resolveEdgeOptions(options));
 */
export async function handleWebSocket<TEnv>(
  request: Request,
  env: TEnv,
  options: ResolvedEdgeOptions<TEnv>,
): Promise<Response> {
  // A header check only: nothing of the request is read before authentication.
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return errorResponse(426, "UPGRADE_REQUIRED", "this endpoint speaks WebSocket only");
  }
  if (!options.connections) {
    return errorResponse(501, "NOT_CONFIGURED", "the WebSocket endpoint needs `connections` (defineConnectionObject)");
  }
  const principal = await principalOf(request, env, options);
  // Refused before upgrading: an unauthenticated client never gets a socket, let alone a frame.
  if (!principal) return errorResponse(401, "UNAUTHENTICATED", "authentication required");
  const shard = options.connectionShard?.(principal) ?? stableJson(principal);
  const namespace = options.connections(env);
  const headers = new Headers(request.headers);
  headers.set(CONNECTION_HEADERS.principal, JSON.stringify(principal));
  headers.set(CONNECTION_HEADERS.shard, shard);
  return namespace.get(namespace.idFromName(shard) as never).fetch(new Request(request.url, { headers }));
}
