import { edgeNode } from "./edge-node.ts";
import { errorResponse, type ResolvedEdgeOptions } from "./edge-options.ts";
import { authenticate } from "./edge-request.ts";
import { edgeSocketTransport } from "./edge-socket-transport.ts";

/**
 * The WebSocket endpoint: the Worker becomes a node for the connection, announcing its public services
 * and speaking transport frames both ways (the client calls edge services; the edge's routers can forward
 * calls to services the client offers). `authenticate` decides before the upgrade: browsers cannot set
 * headers on a WebSocket, so it usually reads the `token` query parameter (or `Authorization` elsewhere).
 * Each connection gets its own edge node: clients never see each other.
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
  // A header check only: nothing of the request is read before `authenticate`.
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return errorResponse(426, "UPGRADE_REQUIRED", "this endpoint speaks WebSocket only");
  }
  const principal = await authenticate(request, env, options);
  // Refused before upgrading: an unauthenticated client never gets a socket, let alone a frame.
  if (!principal) return errorResponse(401, "UNAUTHENTICATED", "authentication required");

  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  const node = edgeNode(env, options);
  const transport = edgeSocketTransport(server, {
    principal,
    trustedAssigns: options.trustedAssigns,
    maxFrameBytes: options.maxBodyBytes,
  });
  // Registered after the transport's listeners, so the client is reported gone before the node closes.
  const closeNode = () => void node.close();
  server.addEventListener("close", closeNode);
  server.addEventListener("error", closeNode);
  // Connecting announces the edge's public services: the first frame the client receives.
  await node.connect(transport);
  return new Response(null, { status: 101, webSocket: client });
}
