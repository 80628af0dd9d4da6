import {
  decodeFrame,
  encodeFrame,
  exceedsBytes,
  type Frame,
  LOCAL,
  SdkClientError,
  SdkErrorCode,
  type Transport,
  type TransportLink,
} from "../../src/index.ts";
import { edgeAssigns, type Principal } from "./edge-options.ts";

/** What the edge knows about the client on the other end of one socket. */
export interface EdgeSocketTransportOptions {
  /** Who authenticated the socket: every request the client sends runs as this principal. */
  readonly principal: Principal;
  /** Client-sent assigns kept as they are; every other one is dropped. */
  readonly trustedAssigns: readonly string[];
  /** Largest frame accepted from the client, in UTF-8 bytes; larger ones are dropped unread. */
  readonly maxFrameBytes: number;
}

// WebSocket.OPEN in every runtime; a literal so this works on any socket-like object.
const OPEN = 1;

/**
 * The edge's side of one client WebSocket, as a core `Transport`: the client is the only peer. The client
 * is outside the cluster, so what it sends is admitted, not trusted: frames are size-checked before they
 * are read, validated, and bound to the node id the client first used (`sender`, so the node's spoof check
 * applies); the envelopes of its requests and replies get the authenticated principal instead of the
 * assigns the client wrote, and its requests carry no events and cannot skip the edge's `chooseNode`.
 *
 * @example
 * const { 0: client, 1: server } = new WebSocketPair();
 * server.accept();
 * await node.connect(edgeSocketTransport(server, { principal, trustedAssigns: ["locale"], maxFrameBytes: 65_536 }));
 * return new Response(null, { status: 101, webSocket: client });
 */
export function edgeSocketTransport(socket: WebSocket, options: EdgeSocketTransportOptions): Transport {
  let link: TransportLink | undefined;
  let clientId: string | undefined;
  let open = true;

  /** The text the node gets for a valid frame of the client; `undefined` drops it. */
  const admit = (frame: Frame, text: string): string | undefined => {
    if (frame.kind !== "request" && frame.kind !== "reply") return text;
    const assigns = edgeAssigns(frame.envelope.assigns, options.principal, options.trustedAssigns);
    try {
      if (frame.kind === "reply") return encodeFrame({ ...frame, envelope: frame.envelope.with({ assigns }) });
      // `forwarded` would let the client skip the edge router's `chooseNode`: only cluster nodes forward.
      const { forwarded: _ignored, ...request } = frame;
      return encodeFrame({ ...request, envelope: frame.envelope.with({ assigns, events: [] }) });
    } catch {
      // Too large once rewritten (a principal near the node's frame limit): never pass it on unrewritten.
      return undefined;
    }
  };

  const onMessage = (event: MessageEvent): void => {
    const text = event.data;
    // Frames are JSON text; binary data and oversize text are dropped before anything reads them.
    if (!link || typeof text !== "string" || exceedsBytes(text, options.maxFrameBytes)) return;
    const decoded = decodeFrame(text, options.maxFrameBytes);
    if (decoded.ok && clientId === undefined && decoded.value.from !== link.nodeId && decoded.value.from !== LOCAL) {
      clientId = decoded.value.from;
      link.peerJoined(clientId);
    }
    // Malformed text, and a frame claiming another `from`, go to the node untouched with the real sender:
    // the node rejects them (its spoof check) and reports `frame_rejected`.
    const delivered = decoded.ok && decoded.value.from === clientId ? admit(decoded.value, text) : text;
    if (delivered !== undefined) link.receive(delivered, clientId);
  };

  const onGone = (): void => {
    if (!open) return;
    open = false;
    try {
      socket.close(1000, "closed");
    } catch {
      // Already closing (the runtime may have answered the client's close itself).
    }
    if (clientId !== undefined) link?.peerLeft(clientId);
  };

  socket.addEventListener("message", onMessage);
  socket.addEventListener("close", onGone);
  socket.addEventListener("error", onGone);

  return {
    name: "edge-websocket-server",
    open(next) {
      link = next;
    },
    send(text, to) {
      if (!open || socket.readyState !== OPEN) {
        throw new SdkClientError(SdkErrorCode.NODE_CLOSED, "the client's socket is closed");
      }
      if (to !== undefined && to !== clientId) {
        throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `no node "${to}" on this socket`);
      }
      socket.send(text);
    },
    close() {
      // The node is closing: it has already failed its own attempts, so nothing is reported back.
      link = undefined;
      if (!open) return;
      open = false;
      try {
        socket.close(1000, "edge node closed");
      } catch {
        // Already closed by the other side.
      }
    },
  };
}
