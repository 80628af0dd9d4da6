import {
  type ChangesReply,
  changesReplySchema,
  type PushedCommand,
  type PushResult,
  parseJsonSafely,
  pushReplySchema,
  SYNC_PROTOCOL_VERSION,
  type SyncCursor,
} from "../../src/index.ts";

/** Where and how the client reaches the edge's sync endpoint. */
export interface SyncEndpoint {
  /** The sync base URL: `POST <url>/push` and `POST <url>/changes`. */
  readonly url: string;
  /** Headers sent with every request (authentication); called per request, so tokens can refresh. */
  readonly headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /** @default globalThis.fetch (tests pass a faulty one) */
  readonly fetch?: typeof fetch;
}

/**
 * Why a sync request failed. `transient`: the network, the edge or whatever answered instead of it
 * (a captive portal's page, an unexpected status) is not usable now: retry with backoff. `unauthorized`:
 * the credentials were refused (retry later, tell the app). `too_large`: the batch is over the edge's
 * size limit (send fewer). `fatal`: the edge said it does not speak this protocol: syncing stops until
 * the app is updated.
 */
export class SyncRequestError extends Error {
  constructor(
    readonly kind: "transient" | "unauthorized" | "too_large" | "fatal",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SyncRequestError";
  }
}

async function post(endpoint: SyncEndpoint, action: "push" | "changes", body: object): Promise<unknown> {
  const doFetch = endpoint.fetch ?? globalThis.fetch.bind(globalThis);
  let reply: globalThis.Response;
  try {
    reply = await doFetch(`${endpoint.url.replace(/\/$/, "")}/${action}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(await endpoint.headers?.()) },
      body: JSON.stringify({ protocol: SYNC_PROTOCOL_VERSION, ...body }),
    });
  } catch (error) {
    throw new SyncRequestError("transient", `sync ${action} failed: ${(error as Error).message}`, { cause: error });
  }
  const text = await reply.text().catch(() => "");
  if (reply.status === 401 || reply.status === 403) {
    throw new SyncRequestError("unauthorized", `sync ${action} refused (${reply.status})`);
  }
  if (reply.status === 413) throw new SyncRequestError("too_large", `sync ${action}: batch too large`);
  if (reply.status >= 500 || reply.status === 429 || reply.status === 408) {
    throw new SyncRequestError("transient", `sync ${action}: edge answered ${reply.status}`);
  }
  if (!reply.ok) {
    // Only the edge's explicit refusal of the protocol is final; any other answer may be a proxy's.
    const kind = text.includes('"UNSUPPORTED_PROTOCOL"') ? "fatal" : "transient";
    throw new SyncRequestError(kind, `sync ${action}: edge answered ${reply.status}: ${text.slice(0, 200)}`);
  }
  try {
    return parseJsonSafely(text);
  } catch (error) {
    throw new SyncRequestError("transient", `sync ${action}: unreadable answer`, { cause: error });
  }
}

/** Pushes commands in order; one result per command, in the same order. */
export async function pushCommands(
  endpoint: SyncEndpoint,
  clientId: string,
  commands: readonly PushedCommand[],
): Promise<PushResult[]> {
  const parsed = pushReplySchema.safeParse(await post(endpoint, "push", { clientId, commands }));
  if (!parsed.success || parsed.data.results.length !== commands.length) {
    throw new SyncRequestError("transient", "sync push: the answer does not match the protocol");
  }
  return parsed.data.results as PushResult[];
}

/** Every tracked aggregate's changes after the cursors, in one request (`more`: ask again). */
export async function fetchChanges(
  endpoint: SyncEndpoint,
  clientId: string,
  cursors: readonly SyncCursor[],
  limit: number,
): Promise<ChangesReply> {
  const parsed = changesReplySchema.safeParse(await post(endpoint, "changes", { clientId, cursors, limit }));
  if (!parsed.success) throw new SyncRequestError("transient", "sync changes: the answer does not match the protocol");
  return parsed.data as ChangesReply;
}
