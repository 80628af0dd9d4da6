import {
  type Clock,
  decodeFrame,
  LOCAL,
  SdkClientError,
  SdkErrorCode,
  systemClock,
  type Transport,
  type TransportLink,
} from "../../src/index.ts";

/** The part of the WebSocket API the client uses; browsers', Node's (22+) and workerd's sockets all fit. */
export interface EdgeSocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Sends one text frame. */
  send(data: string): void;
  /** Closes the socket (browsers accept the codes 1000 and 3000–4999). */
  close(code?: number, reason?: string): void;
  /** Hears the socket open, close or fail. */
  addEventListener(type: "open" | "close" | "error", listener: () => void): void;
  /** Hears each frame; text frames carry a string. */
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void): void;
}

/** A WebSocket class: the global `WebSocket`, or any constructor with the same shape (tests, adapters). */
export type EdgeSocketConstructor = new (url: string) => EdgeSocket;

/** Options of `edgeTransport`. */
export interface EdgeTransportOptions {
  /** The edge's WebSocket endpoint, absolute (`wss://app.example/x3m/ws`). */
  readonly url: string;
  /** Called before every (re)connection, so an expired token is replaced; sent as the `token` query parameter. */
  readonly getToken?: () => string | Promise<string>;
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

const OPEN = 1;

function globalWebSocket(): EdgeSocketConstructor | undefined {
  return (globalThis as { WebSocket?: EdgeSocketConstructor }).WebSocket;
}

/** `url` with `token` as its query parameter: browsers cannot set headers on a WebSocket. */
function withToken(url: string, token: string): string {
  const target = new URL(url);
  target.searchParams.set("token", token);
  return target.toString();
}

/**
 * A transport to the edge Worker's WebSocket endpoint: the Worker appears as one more node with its
 * public services. When the socket drops, the edge is reported gone at once (so requests in flight to it
 * fail at once and the dispatcher tries another provider), then the transport reconnects with capped
 * exponential backoff; once the edge speaks again both sides re-announce. Sending while disconnected
 * throws `SdkClientError` `NODE_CLOSED`.
 *
 * @example
 * import { createNode, Message } from "x3m-system";
 * import { edgeTransport } from "x3m-system/edge-client";
 * const node = createNode({ maxFrameBytes: 65_536 }); // the edge's maxBodyBytes: too large fails at once
 * await node.connect(edgeTransport({ url: "wss://app.example/x3m/ws", getToken: () => session.token }));
 * const reply = await node.dispatch(Message.new("deposit", { rawRequest: { id: "acc-1", amount: 5 } }));
 */
export function edgeTransport(options: EdgeTransportOptions): Transport {
  const Socket = options.WebSocket ?? globalWebSocket();
  if (!Socket) throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, "no WebSocket class: pass one as `WebSocket`");
  // An invalid URL fails here, not silently on every reconnection.
  if (!URL.canParse(options.url))
    throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `invalid url "${options.url}"`);
  const clock = options.clock ?? systemClock;
  const initialMs = options.backoff?.initialMs ?? 500;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const random = options.backoff?.random ?? Math.random;

  let link: TransportLink | undefined;
  let socket: EdgeSocket | undefined;
  let edgeId: string | undefined;
  let failures = 0;
  let closed = false;
  let cancelRetry: (() => void) | undefined;

  const retry = (): void => {
    const delay = Math.min(maxMs, initialMs * 2 ** failures);
    failures++;
    cancelRetry = clock.setTimeout(() => void connect(), delay * (1 - random() / 2));
  };

  const onFrame = (data: unknown): void => {
    if (!link || typeof data !== "string") return;
    if (edgeId === undefined) {
      // The edge speaks first (its announcement): its first valid frame names it.
      const decoded = decodeFrame(data);
      const from = decoded.ok ? decoded.value.from : undefined;
      if (from !== undefined && from !== link.nodeId && from !== LOCAL) {
        edgeId = from;
        failures = 0; // a connection counts as healthy once the edge has spoken, not merely opened
        link.peerJoined(from); // the node (re-)announces its services to it
      }
    }
    link.receive(data, edgeId);
  };

  const watch = (current: EdgeSocket): void => {
    current.addEventListener("message", (event) => {
      if (current === socket) onFrame(event.data);
    });
    const drop = (): void => {
      if (current !== socket) return; // `error` and `close` both come; a replaced socket is ignored
      socket = undefined;
      // Browsers let scripts close with 1000 or 3000-4999 only.
      if (current.readyState === OPEN) current.close(1000, "dropped");
      const gone = edgeId;
      edgeId = undefined;
      // At once, not after a timeout: the node fails the attempts in flight to the edge.
      if (gone !== undefined) link?.peerLeft(gone);
      if (!closed) retry();
    };
    current.addEventListener("close", drop);
    current.addEventListener("error", drop);
  };

  const connect = async (): Promise<void> => {
    cancelRetry = undefined;
    try {
      const url = options.getToken ? withToken(options.url, await options.getToken()) : options.url;
      if (closed) return;
      socket = new Socket(url);
      watch(socket);
    } catch {
      // getToken or the constructor failed: same as a refused connection.
      if (!closed) retry();
    }
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
      if (!socket || socket.readyState !== OPEN) {
        throw new SdkClientError(SdkErrorCode.NODE_CLOSED, "the edge is not connected");
      }
      if (to !== undefined && to !== edgeId) {
        throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `no node "${to}" on this transport`);
      }
      socket.send(text);
    },
    close() {
      closed = true;
      cancelRetry?.();
      const current = socket;
      socket = undefined;
      edgeId = undefined;
      link = undefined;
      if (current && current.readyState <= OPEN) current.close(1000, "closed");
    },
  };
}
