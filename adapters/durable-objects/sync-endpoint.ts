import * as z from "zod/mini";
import { type Message, parseJsonSafely, type ResponseStatus, Response as X3mResponse } from "../../src/index.ts";
import { clientMessage } from "./client-message.ts";
import { edgeNode } from "./edge-node.ts";
import { errorResponse, type Principal, type ResolvedEdgeOptions } from "./edge-options.ts";
import { authenticate, readText } from "./edge-request.ts";

/** The offline-sync protocol version this edge speaks; every request carries it. */
export const SYNC_PROTOCOL_VERSION = 1;

const pushSchema = z.object({ protocol: z.number(), commands: z.array(z.unknown()) });
const pullSchema = z.object({
  protocol: z.number(),
  aggregate: z.string(),
  id: z.string().check(z.minLength(1), z.maxLength(200)),
  after: z.optional(z.int()),
  limit: z.optional(z.int().check(z.minimum(1), z.maximum(1_000))),
});

/**
 * What happened to one pushed command. `applied` and `rejected` are final (a rejection is answered and
 * never blocks the commands behind it); `retry` means the edge could not reach the aggregate now, and the
 * commands after it in the batch were not attempted (`not_processed`) to keep the client's order.
 */
export type PushStatus = "applied" | "rejected" | "retry" | "not_processed";

export interface PushResult {
  readonly messageId: string | null;
  readonly status: PushStatus;
  readonly response: X3mResponse | null;
}

// No provider answered: worth pushing again later, unlike a domain or validation answer.
const TRANSIENT: ReadonlySet<ResponseStatus> = new Set(["service_timeout", "no_nodes_available", "try_another_node"]);

function classify(reply: Message): PushStatus {
  const status = reply.response?.status;
  if (status !== undefined && TRANSIENT.has(status)) return "retry";
  return status === "ok" || status === "created" ? "applied" : "rejected";
}

async function readJson(
  request: Request,
  limitBytes: number,
): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  const declared = Number(request.headers.get("content-length"));
  // Counted while reading (readText), so a chunked body without a content-length is never buffered past the limit.
  const text = declared > limitBytes ? null : await readText(request, limitBytes);
  if (text === null)
    return { ok: false, response: errorResponse(413, "PAYLOAD_TOO_LARGE", `body over ${limitBytes} bytes`) };
  try {
    return { ok: true, value: parseJsonSafely(text) };
  } catch (error) {
    return { ok: false, response: errorResponse(400, "INVALID_BODY", (error as Error).message) };
  }
}

async function push<TEnv>(
  body: z.infer<typeof pushSchema>,
  env: TEnv,
  principal: Principal,
  options: ResolvedEdgeOptions<TEnv>,
) {
  const node = edgeNode(env, options);
  const results: PushResult[] = [];
  let blocked = false;
  // One at a time, in the client's order: per aggregate, commands apply in the order they were made.
  for (const command of body.commands) {
    const messageId = typeof (command as { id?: unknown })?.id === "string" ? (command as { id: string }).id : null;
    if (blocked) {
      results.push({ messageId, status: "not_processed", response: null });
      continue;
    }
    const prepared = clientMessage(command, { principal, trustedAssigns: options.trustedAssigns, node });
    if (!prepared.ok) {
      const issues = Array.isArray(prepared.error.details)
        ? prepared.error.details
        : [{ message: prepared.error.message, path: [] }];
      results.push({ messageId, status: "rejected", response: X3mResponse.validationError(issues) });
      continue;
    }
    const reply = await node.dispatch(prepared.value, { timeoutMs: options.timeoutMs });
    const status = classify(reply);
    blocked = status === "retry";
    results.push({ messageId, status, response: reply.response });
  }
  await node.close();
  return Response.json({ protocol: SYNC_PROTOCOL_VERSION, results });
}

async function pull<TEnv>(
  body: z.infer<typeof pullSchema>,
  env: TEnv,
  principal: Principal,
  options: ResolvedEdgeOptions<TEnv>,
) {
  const sync = options.sync;
  const namespace = sync?.aggregates(env)[body.aggregate];
  if (!sync || !namespace || !Object.hasOwn(sync.aggregates(env), body.aggregate)) {
    return errorResponse(404, "UNKNOWN_AGGREGATE", `no aggregate type "${body.aggregate}"`);
  }
  const allowed = (await sync.authorizePull?.({ principal, aggregate: body.aggregate, id: body.id }, env)) === true;
  if (!allowed) return errorResponse(403, "FORBIDDEN", "not allowed to pull this aggregate");
  const from = (body.after ?? -1) + 1;
  const stub = namespace.get(namespace.idFromName(body.id) as never);
  const { events, version } = await stub.events(body.id, from, body.limit ?? 500);
  return Response.json({ protocol: SYNC_PROTOCOL_VERSION, aggregate: body.aggregate, id: body.id, events, version });
}

/**
 * The server side of offline sync: `POST <sync>/push` runs a batch of commands in order (each
 * de-duplicated by message id inside its aggregate's object, so a re-pushed command gets its original
 * answer) and `POST <sync>/pull` returns the confirmed events of one aggregate after a version. Every
 * request carries `protocol`; another version is refused with `UNSUPPORTED_PROTOCOL`.
 */
export async function handleSync<TEnv>(
  request: Request,
  env: TEnv,
  options: ResolvedEdgeOptions<TEnv>,
): Promise<Response> {
  const action = new URL(request.url).pathname.slice(options.paths.sync.length + 1);
  if (!options.sync || (action !== "push" && action !== "pull"))
    return errorResponse(404, "NOT_FOUND", `no sync endpoint "${action}"`);
  if (request.method !== "POST") return new Response(null, { status: 405, headers: { Allow: "POST" } });
  const principal = await authenticate(request, env, options);
  if (!principal) return errorResponse(401, "UNAUTHENTICATED", "authentication required");
  const body = await readJson(request, options.sync.maxBatchBytes ?? 1_048_576);
  if (!body.ok) return body.response;
  const protocol = (body.value as { protocol?: unknown } | null)?.protocol;
  if (protocol !== SYNC_PROTOCOL_VERSION) {
    return Response.json(
      {
        error: {
          code: "UNSUPPORTED_PROTOCOL",
          message: `protocol ${String(protocol)} is not supported`,
          supported: [SYNC_PROTOCOL_VERSION],
        },
      },
      { status: 400 },
    );
  }
  if (action === "pull") {
    const parsed = pullSchema.safeParse(body.value);
    return parsed.success
      ? pull(parsed.data, env, principal, options)
      : errorResponse(400, "INVALID_BODY", parsed.error.message);
  }
  const parsed = pushSchema.safeParse(body.value);
  if (!parsed.success) return errorResponse(400, "INVALID_BODY", parsed.error.message);
  const maxBatch = options.sync.maxBatch ?? 500;
  if (parsed.data.commands.length > maxBatch)
    return errorResponse(413, "BATCH_TOO_LARGE", `more than ${maxBatch} commands`);
  return push(parsed.data, env, principal, options);
}
