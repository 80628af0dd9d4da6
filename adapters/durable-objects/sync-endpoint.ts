import {
  type ChangesRequest,
  changesRequestSchema,
  type PushRequest,
  pushRequestSchema,
  runChanges,
  runPush,
  SYNC_PROTOCOL_VERSION,
  type SyncAggregate,
  type SyncServerContext,
  type SystemNode,
} from "../../src/index.ts";
import { syncAggregate } from "./aggregate-services.ts";
import { clientMessage } from "./client-message.ts";
import { edgeNode } from "./edge-node.ts";
import { errorResponse, type Principal, type ResolvedEdgeOptions } from "./edge-options.ts";
import { admitJsonRequest } from "./edge-request.ts";

/** The context the core's sync server runs in for one request: this edge's routers, objects and principal. */
function syncContext<TEnv>(
  env: TEnv,
  principal: Principal,
  options: ResolvedEdgeOptions<TEnv>,
): { context: SyncServerContext; close: () => Promise<void> } {
  const sync = options.sync;
  const namespaces = sync?.aggregates(env) ?? {};
  // Made on first use: only a push looks services up and admits commands; `/changes` needs no node.
  let node: SystemNode | undefined;
  const nodeOf = () => (node ??= edgeNode(env, options));
  const aggregates = new Map<string, SyncAggregate>();
  return {
    context: {
      aggregate(name) {
        if (!Object.hasOwn(namespaces, name)) return undefined;
        let found = aggregates.get(name);
        if (!found) {
          found = syncAggregate(namespaces[name] as NonNullable<(typeof namespaces)[string]>);
          aggregates.set(name, found);
        }
        return found;
      },
      lookup: (service) => nodeOf().registry.localService(service),
      // The same door as the dispatch and WebSocket endpoints: validated, no preset answers, edge assigns.
      admit: (envelope) =>
        clientMessage(envelope, { principal, trustedAssigns: options.trustedAssigns, node: nodeOf() }),
      authorizePull: async (aggregate, id) => (await sync?.authorizePull?.({ principal, aggregate, id }, env)) === true,
    },
    close: async () => {
      await node?.close();
    },
  };
}

/**
 * The server side of offline sync (protocol 2), on the core's sync server:
 * - `POST <sync>/push` `{ protocol: 2, clientId, commands: [{ aggregate, aggregateId, seq, messageId, command }] }`
 *   runs each aggregate's commands in one RPC to its object, in the client's order; different aggregates
 *   run in parallel. Each command is exactly once by its client sequence, recorded with its effects.
 * - `POST <sync>/changes` `{ protocol: 2, clientId, cursors: [{ aggregate, id, after, seq? }], limit? }`
 *   answers every tracked aggregate's new events (pull authorization per aggregate) in one reply.
 * Both pass the door every JSON endpoint has (`admitJsonRequest`); any other protocol version is refused
 * with `UNSUPPORTED_PROTOCOL` (protocol 1 included: its clients must update).
 */
export async function handleSync<TEnv>(
  request: Request,
  env: TEnv,
  options: ResolvedEdgeOptions<TEnv>,
): Promise<Response> {
  const action = new URL(request.url).pathname.slice(options.paths.sync.length + 1);
  if (!options.sync || (action !== "push" && action !== "changes"))
    return errorResponse(404, "NOT_FOUND", `no sync endpoint "${action}"`);
  const admitted = await admitJsonRequest(request, env, options, options.sync.maxBatchBytes ?? 1_048_576);
  if (!admitted.ok) return admitted.response;
  const { body, principal } = admitted.value;
  const protocol = (body as { protocol?: unknown } | null)?.protocol;
  if (protocol !== SYNC_PROTOCOL_VERSION) {
    return Response.json(
      {
        error: {
          code: "UNSUPPORTED_PROTOCOL",
          message: `this edge speaks sync protocol ${SYNC_PROTOCOL_VERSION}, not ${JSON.stringify(protocol ?? null)}`,
          details: { supported: [SYNC_PROTOCOL_VERSION] },
        },
      },
      { status: 400 },
    );
  }
  const parsed = (action === "push" ? pushRequestSchema : changesRequestSchema).safeParse(body);
  if (!parsed.success) return errorResponse(400, "INVALID_REQUEST", parsed.error.message);
  if (action === "push") {
    const maxBatch = options.sync.maxBatch ?? 500;
    if ((parsed.data as PushRequest).commands.length > maxBatch)
      return errorResponse(413, "BATCH_TOO_LARGE", `more than ${maxBatch} commands`);
  }
  const { context, close } = syncContext(env, principal, options);
  try {
    return Response.json(
      action === "push"
        ? await runPush(parsed.data as PushRequest, context)
        : await runChanges(parsed.data as ChangesRequest, context),
    );
  } finally {
    await close();
  }
}
