// The client side of the edge's ticket handshake, shared by the edge client and the offline client's live
// channel (adapters never import each other). The core has no DOM typings: `URL` and `fetch` are reached
// through `globalThis` with the few members used, typed here.
import { SdkClientError, SdkErrorCode } from "../errors.ts";

/** The part of a WHATWG `URL` these helpers use. */
interface UrlLike {
  protocol: string;
  pathname: string;
  search: string;
  readonly searchParams: { set(name: string, value: string): void };
  toString(): string;
}

/** The part of a `fetch` reply the ticket request reads. */
interface TicketReply {
  readonly ok: boolean;
  readonly status: number;
  json(): Promise<unknown>;
}

/**
 * @internal The `fetch` a ticket request makes (a platform `fetch` fits it):
 * `POST` with JSON headers and body `{}`.
 */
export type TicketFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string },
) => Promise<TicketReply>;

/** @internal How a ticket request is made: its authenticating headers and, for tests, its `fetch`. */
export interface TicketRequestOptions {
  /** Called before each ticket, so a refreshed token is used. */
  readonly headers?: (() => Record<string, string> | Promise<Record<string, string>>) | undefined;
  /** @default globalThis.fetch */
  readonly fetch?: TicketFetch | undefined;
}

function parseUrl(url: string): UrlLike {
  const { URL } = globalThis as unknown as { URL: new (url: string) => UrlLike };
  return new URL(url);
}

/**
 * @internal The http(s) ticket URL of a ws(s) endpoint: the edge serves tickets at its WebSocket path +
 * `/ticket` (`wss://app.example/x3m/ws?x=1` → `https://app.example/x3m/ws/ticket`). Any other protocol is
 * kept, and the query dropped (it belongs to the upgrade, not to the ticket request).
 */
export function defaultTicketUrl(url: string): string {
  const target = parseUrl(url);
  target.protocol = target.protocol === "wss:" ? "https:" : target.protocol === "ws:" ? "http:" : target.protocol;
  target.pathname = `${target.pathname.replace(/\/$/, "")}/ticket`;
  target.search = "";
  return target.toString();
}

/** @internal `url` with `name=value` as a query parameter: browsers cannot set headers on a WebSocket. */
export function withParam(url: string, name: string, value: string): string {
  const target = parseUrl(url);
  target.searchParams.set(name, value);
  return target.toString();
}

/** The edge's `{ error: { code, message } }` of a refused request, or its status when the body is not that. */
async function describeRefusal(reply: TicketReply): Promise<string> {
  try {
    const { error } = (await reply.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof error?.code === "string") return `${reply.status} ${error.code}: ${String(error.message)}`;
  } catch {
    // not the edge's JSON (a proxy's page): the status says enough
  }
  return String(reply.status);
}

/**
 * @internal A fresh ticket from the edge (`POST ticketUrl`, which may be relative where `fetch` allows it);
 * throws `SdkClientError` `NODE_CLOSED` saying why there is none: unreachable, refused, or a reply with no
 * non-empty string `ticket`.
 */
export async function fetchTicket(options: TicketRequestOptions, ticketUrl: string): Promise<string> {
  const doFetch = options.fetch ?? (globalThis as unknown as { fetch: TicketFetch }).fetch.bind(globalThis);
  const headers = { "content-type": "application/json", ...(await options.headers?.()) };
  let reply: TicketReply;
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
