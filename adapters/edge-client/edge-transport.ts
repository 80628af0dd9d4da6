import {
  type Clock,
  decodeFrame,
  describeError,
  isLiveFrameText,
  LOCAL,
  type Logger,
  SdkClientError,
  SdkErrorCode,
  systemClock,
  type Transport,
  type TransportLink,
} from "../../src/index.ts";
import { connectUrl, type EdgeTicketOptions } from "./connect-url.ts";
import { type EdgeSocket, type EdgeSocketConstructor, OPEN } from "./edge-socket.ts";
import { type Log, liveChannel, type TrackedAggregate } from "./live-channel.ts";

/** Options of `edgeTransport`. */
export interface EdgeTransportOptions {
  /** The edge's WebSocket endpoint, absolute (`wss://app.example/x3m/ws`). */
  readonly url: string;
  /**
   * Connect with a short-lived ticket (preferred): before every (re)connection the client asks the edge for
   * a fresh one (`POST <url>/ticket`, authenticated by `tickets.headers`) and connects with `?ticket=`, so no
   * session token is ever put in a URL (URLs end up in proxies' and servers' logs). The edge needs
   * `tickets: { secret }`. Not with `getToken`.
   */
  readonly tickets?: EdgeTicketOptions;
  /**
   * Called before every (re)connection, so an expired token is replaced; sent as the `token` query
   * parameter, for an `authenticate` that reads it on the upgrade. Prefer `tickets`: a token in a URL ends
   * up in logs. Not with `tickets`.
   */
  readonly getToken?: () => string | Promise<string>;
  /**
   * The edge says an aggregate this client tracks (see `track`) committed events, now at `version`. A hint
   * with no data (read the aggregate to see what changed); commits while this client was disconnected are not
   * poked, so re-read what you track when the edge joins again. A callback that throws is logged.
   */
  readonly onPoke?: (aggregate: string, id: string, version: number) => void;
  /**
   * Where the transport's warnings go: a connection or ticket that failed (with why), a frame the edge
   * refused, a failing `onPoke`. The same `Logger` a node takes. @default nothing is logged
   */
  readonly logger?: Logger;
  /** @default globalThis.WebSocket (browsers, Node 22+, Workers) */
  readonly WebSocket?: EdgeSocketConstructor;
  /**
   * Reconnection delays: `initialMs`, doubled after each failed attempt up to `maxMs`, each shortened by
   * up to half at random so clients dropped together (an edge deploy) do not come back together.
   * `random: () => 0` makes the delays exact. @default { initialMs: 500, maxMs: 30_000, random: Math.random }
   */
  readonly backoff?: {
    readonly initialMs?: number;
    readonly maxMs?: number;
    /** A number in [0, 1): how much of each delay is cut. */
    readonly random?: () => number;
  };
  /** Times the reconnections. @default systemClock */
  readonly clock?: Clock;
}

/** The edge client's transport: a `Transport`, plus what it can ask of the edge's live channel. */
export interface EdgeTransport extends Transport {
  /**
   * Sets what this client wants pokes for (`onPoke`), replacing the last set; sent now when connected and
   * again on every reconnection. The edge pokes only aggregates of its `sync.aggregates` that its
   * `sync.authorizePull` lets this client's principal read. At most 10,000 entries; throws `SdkClientError`
   * `INVALID_OPTIONS` for an invalid entry and `FRAME_TOO_LARGE` when the set is over the edge's frame limit
   * (nothing is changed then).
   *
   * @example
   * edge.track([{ aggregate: "account", id: "acc-1" }]);
   */
  track(aggregates: readonly TrackedAggregate[]): void;
}

function globalWebSocket(): EdgeSocketConstructor | undefined {
  return (globalThis as { WebSocket?: EdgeSocketConstructor }).WebSocket;
}

/**
 * A transport to the edge Worker's WebSocket endpoint: the Worker appears as one more node with its
 * public services. The edge speaks first: its limits (a frame larger than its `maxFrameBytes` then fails at
 * once on this side, with `FRAME_TOO_LARGE`, and is never sent), then its announcement. When the socket drops,
 * the edge is reported gone at once (so requests in flight to it fail at once and the dispatcher tries
 * another provider), then the transport reconnects with capped exponential backoff; once the edge speaks
 * again both sides re-announce. While disconnected, a frame addressed to the edge throws `SdkClientError`
 * `NODE_CLOSED` and a frame for everyone is dropped (nobody is there to read it; the node announces itself
 * again when the edge joins); once closed, every send throws `NODE_CLOSED`. The edge's
 * control frames (limits, pokes, refusals) are handled here and never reach the node.
 *
 * @example
 * import { createNode, Message } from "x3m-system";
 * import { edgeTransport } from "x3m-system/edge-client";
 * const node = createNode();
 * const headers = () => ({ authorization: `Bearer ${session.token}` });
 * await node.connect(edgeTransport({ url: "wss://app.example/x3m/ws", tickets: { headers } }));
 * const reply = await node.dispatch(Message.new("deposit", { rawRequest: { id: "acc-1", amount: 5 } }));
 */
export function edgeTransport(options: EdgeTransportOptions): EdgeTransport {
  const Socket = options.WebSocket ?? globalWebSocket();
  if (!Socket) throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, "no WebSocket class: pass one as `WebSocket`");
  // Invalid URLs or options fail here, not silently on every reconnection.
  const nextUrl = connectUrl(options);
  const clock = options.clock ?? systemClock;
  const initialMs = options.backoff?.initialMs ?? 500;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const random = options.backoff?.random ?? Math.random;

  let link: TransportLink | undefined;
  let socket: EdgeSocket | undefined;
  // Per connection: who the edge is (its announcement).
  let edgeId: string | undefined;
  let failures = 0;
  // Failed attempts since the edge last spoke: the first is a warning, the retries after it are quieter.
  let failedInARow = 0;
  let closed = false;
  let cancelRetry: (() => void) | undefined;

  const log: Log = (level, event, message, data = {}) => {
    try {
      options.logger?.log({ level, event, message, context: {}, data: { url: options.url, ...data } });
    } catch {
      // A broken logger never breaks the connection.
    }
  };
  const live = liveChannel({ onPoke: options.onPoke, log });

  /** Schedules the next attempt; answers its delay. */
  const retry = (): number => {
    const delay = Math.min(maxMs, initialMs * 2 ** failures) * (1 - random() / 2);
    failures++;
    cancelRetry = clock.setTimeout(() => void connect(), delay);
    return delay;
  };

  /** A failed attempt: logged (a warning for the first in a row, then quieter), then retried. */
  const failed = (why: string): void => {
    const level = failedInARow++ === 0 ? "warn" : "debug";
    log(level, "edge_connect_failed", `${why}; retrying in ${Math.round(retry())} ms`, { failedInARow });
  };

  const onFrame = (current: EdgeSocket, data: unknown): void => {
    if (!link || typeof data !== "string") return;
    // The edge's control frames are the live channel's, never the node's (they are not transport frames).
    if (isLiveFrameText(data)) {
      live.receive(current, data);
      return;
    }
    if (edgeId === undefined) {
      // The edge announces itself: its first valid frame names it.
      const decoded = decodeFrame(data);
      const from = decoded.ok ? decoded.value.from : undefined;
      if (from !== undefined && from !== link.nodeId && from !== LOCAL) {
        edgeId = from;
        // A connection counts as healthy once the edge has spoken, not merely opened.
        failures = 0;
        failedInARow = 0;
        link.peerJoined(from); // the node (re-)announces its services to it
      }
    }
    link.receive(data, edgeId);
  };

  const watch = (current: EdgeSocket): void => {
    current.addEventListener("message", (event) => {
      if (current === socket) onFrame(current, event.data);
    });
    const drop = (): void => {
      if (current !== socket) return; // `error` and `close` both come; a replaced socket is ignored
      socket = undefined;
      // Browsers let scripts close with 1000 or 3000-4999 only.
      if (current.readyState === OPEN) current.close(1000, "dropped");
      const gone = edgeId;
      edgeId = undefined;
      live.reset();
      // At once, not after a timeout: the node fails the attempts in flight to the edge.
      if (gone !== undefined) link?.peerLeft(gone);
      if (closed) return;
      if (gone === undefined) {
        // Browsers do not say why: a refused upgrade (401) and an unreachable edge look the same here.
        failed(
          "the edge closed the connection before it spoke (its upgrade refused: a bad or expired ticket or token, or the edge unreachable)",
        );
      } else {
        log("info", "edge_disconnected", `lost the connection to the edge; reconnecting in ${Math.round(retry())} ms`);
      }
    };
    current.addEventListener("close", drop);
    current.addEventListener("error", drop);
  };

  const connect = async (): Promise<void> => {
    cancelRetry = undefined;
    let url: string;
    try {
      url = await nextUrl();
    } catch (error) {
      // No ticket or token: same as a refused connection.
      if (!closed) failed(describeError(error).message);
      return;
    }
    if (closed) return;
    try {
      socket = new Socket(url);
    } catch (error) {
      if (!closed) failed(`could not open a WebSocket: ${describeError(error).message}`);
      return;
    }
    watch(socket);
  };

  return {
    name: "edge-websocket",
    open(next) {
      if (closed) throw new SdkClientError(SdkErrorCode.NODE_CLOSED, "this edge transport is closed");
      if (link)
        throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, "an edge transport serves one node: make one per node");
      link = next;
      // Not awaited: an offline client connects and keeps retrying; its node works locally meanwhile.
      void connect();
    },
    send(text, to) {
      if (closed) throw new SdkClientError(SdkErrorCode.NODE_CLOSED, "this edge transport is closed");
      // A frame for everyone while the edge is away has nobody to reach: the node announces itself to the
      // edge when it joins, so dropping it loses nothing (and is no failure to report).
      if (to === undefined && (!socket || socket.readyState !== OPEN || edgeId === undefined)) return;
      if (!socket || socket.readyState !== OPEN) {
        throw new SdkClientError(SdkErrorCode.NODE_CLOSED, "the edge is not connected");
      }
      if (to !== undefined && to !== edgeId) {
        throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `no node "${to}" on this transport`);
      }
      // Refused here, unsent: the edge would refuse it unread. The node answers the caller with this error.
      live.checkSize(text, "frame");
      socket.send(text);
    },
    track(aggregates) {
      live.track(socket, aggregates);
    },
    close() {
      closed = true;
      cancelRetry?.();
      const current = socket;
      socket = undefined;
      edgeId = undefined;
      live.reset();
      link = undefined;
      if (current && current.readyState <= OPEN) current.close(1000, "closed");
    },
  };
}
