import {
  type Clock,
  decodeLiveFrame,
  defaultTicketUrl,
  encodeLiveFrame,
  fetchTicket,
  withParam,
} from "../../src/index.ts";
import type { SyncEndpoint } from "./sync-protocol.ts";

/** Where the edge's live channel is (its WebSocket endpoint) and how to open it. */
export interface LiveOptions {
  /** The edge's WebSocket endpoint, absolute (`wss://app.example/x3m/ws`). */
  readonly url: string;
  /**
   * Where to get a ticket for the upgrade (`POST`, with the sync endpoint's headers): browsers cannot send
   * headers on a WebSocket, and a session token must not go into a URL. @default the `url` + `/ticket`, over http(s)
   */
  readonly ticketUrl?: string;
  /** @default globalThis.WebSocket */
  readonly WebSocket?: new (
    url: string,
  ) => WebSocket;
  /** A keep-alive ping (answered by the edge's runtime, without waking anything) this often. @default 30_000 */
  readonly pingEveryMs?: number;
}

/** The syncing tab's live channel. @internal */
export interface LivePokes {
  /** Opens it (this tab became the syncing tab). */
  start(): void;
  /** Tells the edge what this client tracks now (sent when it changed, and on every new connection). */
  track(aggregates: readonly { aggregate: string; id: string }[]): void;
  stop(): void;
}

/**
 * A WebSocket to the edge that only rings: a `poke` means "an aggregate you track committed", and
 * `onPoke` runs a sync round. It carries no data (the round pulls through the changes feed, under its
 * authorization), so a missed poke only delays a change until the pull interval. It reconnects with
 * capped backoff; while idle it costs the edge nothing (the connection object hibernates).
 */
export function createLivePokes(options: {
  readonly live: LiveOptions;
  readonly endpoint: SyncEndpoint;
  readonly clock: Clock;
  onPoke(): void;
}): LivePokes {
  const { live, endpoint, clock } = options;
  const Socket = live.WebSocket ?? (globalThis as { WebSocket?: new (url: string) => WebSocket }).WebSocket;
  let socket: WebSocket | undefined;
  let running = false;
  let failures = 0;
  let tracked = "[]";
  let cancelRetry: (() => void) | undefined;
  let cancelPing: (() => void) | undefined;

  const send = (text: string) => {
    if (socket?.readyState === 1) socket.send(text);
  };
  const ping = () => {
    cancelPing = clock.setTimeout(() => {
      send('{"live":"ping"}');
      ping();
    }, live.pingEveryMs ?? 30_000);
  };
  const retry = () => {
    if (!running) return;
    const delay = Math.min(30_000, 500 * 2 ** failures++) * (0.5 + Math.random() / 2);
    cancelRetry = clock.setTimeout(() => void connect(), delay);
  };

  const connect = async () => {
    cancelRetry = undefined;
    if (!running || !Socket) return;
    let ticket: string;
    try {
      // The sync endpoint's headers authenticate the ticket request; a relative `ticketUrl` is fine here.
      ticket = await fetchTicket(endpoint, live.ticketUrl ?? defaultTicketUrl(live.url));
    } catch {
      retry();
      return;
    }
    if (!running) return;
    const current = new Socket(withParam(live.url, "ticket", ticket));
    socket = current;
    current.addEventListener("open", () => {
      failures = 0;
      current.send(encodeLiveFrame({ live: "track", aggregates: JSON.parse(tracked) }));
      // Changes made while this tab was not connected: one round catches up.
      options.onPoke();
    });
    current.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      if (decodeLiveFrame(event.data)?.live === "poke") options.onPoke();
    });
    const dropped = () => {
      if (socket !== current) return;
      socket = undefined;
      retry();
    };
    current.addEventListener("close", dropped);
    current.addEventListener("error", dropped);
  };

  return {
    start() {
      if (running) return;
      running = true;
      ping();
      void connect();
    },
    track(aggregates) {
      const next = JSON.stringify(aggregates.map(({ aggregate, id }) => ({ aggregate, id })));
      if (next === tracked) return;
      tracked = next;
      send(encodeLiveFrame({ live: "track", aggregates: JSON.parse(next) }));
    },
    stop() {
      running = false;
      cancelRetry?.();
      cancelPing?.();
      const current = socket;
      socket = undefined;
      current?.close(1000, "not the syncing tab any more");
    },
  };
}
