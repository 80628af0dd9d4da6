import { LOCAL } from "../announced.ts";
import { describeError, SdkClientError, SdkErrorCode } from "../errors.ts";
import { decodeFrame, encodeFrame, type Frame, type LeaveFrame } from "../frames.ts";
import { isValidName } from "../ids.ts";
import { type Logger, logTo } from "../logger.ts";
import type { Telemetry } from "../telemetry.ts";
import type { Transport, TransportLink } from "../transport.ts";

/** One transport this node is connected through. */
export interface Connection {
  readonly transport: Transport;
}

/** A frame from a peer that the rest of the node acts on (a `leave` ends in `PeerEvents.left` instead). */
export type PeerFrame = Exclude<Frame, LeaveFrame>;

/** What the peer table tells the rest of the node. */
export interface PeerEvents {
  /** `peer` became known through `connection` (or asked to be re-introduced): say who this node is. */
  introduce(connection: Connection, peer: string): void;
  /** `peer` became known (the first time, not on a re-introduction). */
  joined(peer: string): void;
  /** A checked frame from a peer; announce, drain and request frames come after their sender is known. */
  frame(connection: Connection, frame: PeerFrame): void;
  /** `peer` left, or its transport reported it gone (`reason`). */
  left(peer: string, reason: string): void;
}

export interface PeersOptions {
  readonly nodeId: string;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  readonly isClosed: () => boolean;
}

/**
 * The node's connections and the peers reached through each: it opens transports, decodes and vets every
 * incoming frame (a sender claiming another id, or an id already reached through another transport, is
 * refused), keeps one connection per peer id, and sends frames. What the frames mean is the caller's
 * business (`PeerEvents`).
 */
export class Peers {
  readonly connections: Connection[] = [];
  private readonly byPeer = new Map<string, Connection>();

  private readonly options: PeersOptions;
  private readonly events: PeerEvents;

  constructor(options: PeersOptions, events: PeerEvents) {
    this.options = options;
    this.events = events;
  }

  /** Opens `transport`; the connection counts once open (a node closed meanwhile closes it again and throws). */
  async open(transport: Transport): Promise<Connection> {
    const connection: Connection = { transport };
    const link: TransportLink = {
      nodeId: this.options.nodeId,
      receive: (text, sender) => this.receive(connection, text, sender),
      peerJoined: (peer) => this.joined(connection, peer),
      peerLeft: (peer) => this.left(connection, peer, "node_left"),
    };
    await transport.open(link);
    if (this.options.isClosed()) {
      // close() ran while the transport was opening: leave nothing connected behind.
      await transport.close();
      throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `node "${this.options.nodeId}" is closed`);
    }
    this.connections.push(connection);
    return connection;
  }

  /** The connection `peer` is reached through, if it is known. */
  connectionOf(peer: string): Connection | undefined {
    return this.byPeer.get(peer);
  }

  ids(): string[] {
    return [...this.byPeer.keys()];
  }

  /** Sends `frame` to `to` (or to every peer of `connection`); throws when it cannot be encoded or sent. */
  sendOrThrow(connection: Connection, frame: Frame, to?: string): void {
    connection.transport.send(encodeFrame(frame, this.options.maxFrameBytes), to);
  }

  /** Best-effort send (announcements, goodbyes, failure replies): a failure is reported, never thrown. */
  send(connection: Connection, frame: Frame, to?: string): void {
    try {
      this.sendOrThrow(connection, frame, to);
    } catch (error) {
      const { nodeId, telemetry, logger } = this.options;
      const reason = describeError(error).message;
      const transport = connection.transport.name;
      telemetry.emit("frame_rejected", {}, { code: "SEND_FAILED", reason, transport, node: nodeId });
      logTo(logger, "warn", "send_failed", `could not send a ${frame.kind} frame: ${reason}`, {
        data: { node: nodeId, transport, kind: frame.kind, to },
      });
    }
  }

  /** Sends `frame` to every peer on every connection. */
  broadcast(frame: Frame): void {
    for (const connection of this.connections) this.send(connection, frame);
  }

  /** Closes every transport and forgets every peer. */
  async closeAll(): Promise<void> {
    await Promise.all(this.connections.map((connection) => connection.transport.close()));
    this.connections.length = 0;
    this.byPeer.clear();
  }

  private receive(connection: Connection, text: string, sender?: string): void {
    if (this.options.isClosed()) return;
    const decoded = decodeFrame(text, this.options.maxFrameBytes);
    if (!decoded.ok) {
      this.reject(connection, text, decoded.error.code, decoded.error.message);
      return;
    }
    const frame = decoded.value;
    const { from } = frame;
    if (from === this.options.nodeId || from === LOCAL || (sender !== undefined && from !== sender)) {
      this.reject(connection, text, SdkErrorCode.INVALID_FRAME, `frame claims to come from "${from}"`);
      return;
    }
    const known = this.byPeer.get(from);
    if (known && known !== connection) {
      // A node id is reached through one connection; the same id on another one is not that node.
      this.reject(connection, text, SdkErrorCode.INVALID_FRAME, `"${from}" is connected through another transport`);
      return;
    }
    if (frame.kind === "leave") {
      this.left(connection, from, "node_left");
      return;
    }
    // Announcing, draining or asking makes the sender a peer; answers only settle what this node asked.
    if (frame.kind !== "reply" && frame.kind !== "accepted") this.note(connection, from);
    this.events.frame(connection, frame);
  }

  private reject(connection: Connection, text: unknown, code: string, reason: string): void {
    const { nodeId, telemetry, logger } = this.options;
    // UTF-16 length, not bytes: measuring bytes would mean encoding a possibly huge hostile frame.
    const chars = typeof text === "string" ? text.length : 0;
    const transport = connection.transport.name;
    telemetry.emit("frame_rejected", { chars }, { code, reason, transport, node: nodeId });
    logTo(logger, "warn", "frame_rejected", `dropped a frame from ${transport}: ${reason}`, {
      data: { node: nodeId, transport, code, chars },
    });
  }

  private note(connection: Connection, peer: string): void {
    if (this.byPeer.has(peer)) return;
    this.byPeer.set(peer, connection);
    this.options.telemetry.emit("node_joined", {}, { node: peer });
    this.events.joined(peer);
    this.events.introduce(connection, peer);
  }

  private joined(connection: Connection, peer: string): void {
    if (this.options.isClosed() || peer === this.options.nodeId || !isValidName(peer)) return;
    // A known peer reported as joined again lost track of us (it dropped us while we hung): re-introduce.
    if (this.byPeer.get(peer) === connection) {
      this.events.introduce(connection, peer);
      return;
    }
    this.note(connection, peer);
  }

  private left(connection: Connection, peer: string, reason: string): void {
    if (this.byPeer.get(peer) !== connection) return;
    this.byPeer.delete(peer);
    this.events.left(peer, reason);
  }
}
