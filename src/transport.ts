/**
 * What a node gives a transport when it connects: where to deliver frames and peer changes.
 * Frames are JSON text; the node validates them, the transport never has to.
 */
export interface TransportLink {
  /** The id of the node this transport serves. */
  readonly nodeId: string;
  /**
   * A frame arrived. Transports that know which peer delivered it (the hub, an authenticated socket)
   * pass `sender`; the node then drops frames whose claimed `from` differs (spoofing). Transports that
   * cannot know (a same-origin BroadcastChannel) omit it.
   */
  receive(text: string, sender?: string): void;
  /** A peer became reachable (the node introduces its services to it). */
  peerJoined(nodeId: string): void;
  /** A peer is gone, cleanly or not: its services are dropped and requests in flight to it fail at once. */
  peerLeft(nodeId: string): void;
}

/**
 * Moves frames between nodes and reports peers joining and leaving. It does no routing, retrying or
 * authorization: those live once, in the node. Implementations: `createInProcessHub().transport()`,
 * `x3m-system/broadcast-channel`, the edge WebSocket client.
 */
export interface Transport {
  /** Shown in telemetry (e.g. `frame_rejected`). */
  readonly name: string;
  /** Starts delivering to `link` (`node.connect` awaits it): frames, and peers joining and leaving. */
  open(link: TransportLink): void | Promise<void>;
  /**
   * Sends `text` to peer `to`, or to every peer when `to` is omitted. Throws when it cannot send; a
   * transport that knows its peer's frame limit throws `SdkClientError` `FRAME_TOO_LARGE` for a frame over
   * it, unsent, and the caller gets that error as its answer, as for the node's own `maxFrameBytes`.
   */
  send(text: string, to?: string): void;
  /** Leaves: peers see this node leave, nothing more is delivered, and `send` throws from then on. */
  close(): void | Promise<void>;
}

/** Identity helper that type-checks a transport implementation. */
export function defineTransport<TTransport extends Transport>(transport: TTransport): TTransport {
  return transport;
}
