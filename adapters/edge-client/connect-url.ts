import { defaultTicketUrl, fetchTicket, SdkClientError, SdkErrorCode, withParam } from "../../src/index.ts";

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
