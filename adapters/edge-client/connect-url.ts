import { SdkClientError, SdkErrorCode } from "../../src/index.ts";

/**
 * How the client gets a ticket before each (re)connection: `POST <url>` with `headers` and body `{}`, which
 * the edge answers `{ ticket, expiresAt }` (its `POST <paths.websocket>/ticket`, authenticated by headers).
 */
export interface EdgeTicketOptions {
  /**
   * Headers that authenticate the ticket request (what the edge's `authenticate` reads, e.g.
   * `{ authorization: \`Bearer ${token}\` }`); called before each ticket, so a refreshed token is used.
   * Leave it out when a cookie authenticates (a same-origin `fetch` sends it).
   */
  readonly headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /** @default the WebSocket `url` + `/ticket`, over http(s) (`wss://app.example/x3m/ws/ticket` → `https://…`) */
  readonly url?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** The http(s) ticket URL of a ws(s) endpoint: the edge serves tickets at its WebSocket path + `/ticket`. */
function defaultTicketUrl(url: string): string {
  const target = new URL(url);
  target.protocol = target.protocol === "wss:" ? "https:" : target.protocol === "ws:" ? "http:" : target.protocol;
  target.pathname = `${target.pathname.replace(/\/$/, "")}/ticket`;
  target.search = "";
  return target.toString();
}

/** `url` with `name=value` as a query parameter: browsers cannot set headers on a WebSocket. */
function withParam(url: string, name: string, value: string): string {
  const target = new URL(url);
  target.searchParams.set(name, value);
  return target.toString();
}

/** The edge's `{ error: { code, message } }` of a refused request, or its status when the body is not that. */
async function describeRefusal(reply: Response): Promise<string> {
  try {
    const { error } = (await reply.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof error?.code === "string") return `${reply.status} ${error.code}: ${String(error.message)}`;
  } catch {
    // not the edge's JSON (a proxy's page): the status says enough
  }
  return String(reply.status);
}

/** A fresh ticket from the edge; throws `SdkClientError` `NODE_CLOSED` saying why there is none. */
async function fetchTicket(options: EdgeTicketOptions, ticketUrl: string): Promise<string> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const headers = { "content-type": "application/json", ...(await options.headers?.()) };
  let reply: Response;
  try {
    reply = await doFetch(ticketUrl, { method: "POST", headers, body: "{}" });
  } catch (error) {
    throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `no ticket: ${ticketUrl} is unreachable`, { cause: error });
  }
  if (!reply.ok) {
    throw new SdkClientError(
      SdkErrorCode.NODE_CLOSED,
      `no ticket: ${ticketUrl} refused the request (${await describeRefusal(reply)})`,
    );
  }
  const body = (await reply.json().catch(() => undefined)) as { ticket?: unknown } | undefined;
  if (typeof body?.ticket !== "string" || body.ticket === "") {
    throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `no ticket: ${ticketUrl} answered no \`ticket\``);
  }
  return body.ticket;
}

/**
 * The URL of each (re)connection: with a fresh ticket (`?ticket=`), a fresh token (`?token=`), or as is.
 * Invalid options fail here, at once, not on every reconnection.
 * @internal
 */
export function connectUrl(options: {
  readonly url: string;
  readonly getToken?: (() => string | Promise<string>) | undefined;
  readonly tickets?: EdgeTicketOptions | undefined;
}): () => Promise<string> {
  const { url, getToken, tickets } = options;
  if (!URL.canParse(url)) throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `invalid url "${url}"`);
  if (getToken && tickets) {
    throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, "pass `tickets` or `getToken`, not both");
  }
  if (tickets) {
    const ticketUrl = tickets.url ?? defaultTicketUrl(url);
    if (!URL.canParse(ticketUrl)) {
      throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `invalid tickets.url "${ticketUrl}"`);
    }
    return async () => withParam(url, "ticket", await fetchTicket(tickets, ticketUrl));
  }
  if (getToken) return async () => withParam(url, "token", await getToken());
  return async () => url;
}
