import { createNode, type SystemNode } from "../../src/index.ts";
import type { ResolvedEdgeOptions } from "./edge-options.ts";

/**
 * The edge's node for one request or one WebSocket connection: the app's routers, no periodic
 * announcements (a connection re-announces on reconnect instead). Cheap: a node is a few maps.
 */
export function edgeNode<TEnv>(env: TEnv, options: ResolvedEdgeOptions<TEnv>): SystemNode {
  const node = createNode({
    id: options.nodeId,
    timeoutMs: options.timeoutMs,
    announceIntervalMs: 0,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  node.register(...options.routers(env));
  return node;
}
