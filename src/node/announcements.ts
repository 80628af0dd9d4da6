import type { Clock } from "../clock.ts";
import type { AnnounceFrame, DrainFrame } from "../frames.ts";
import type { TopicRegistry } from "../mesh/pubsub.ts";
import type { ServiceRegistry } from "../registry.ts";
import type { Telemetry } from "../telemetry.ts";
import type { PeerChange } from "./peer-watch.ts";
import type { Connection, Peers } from "./peers.ts";

export interface AnnouncementsOptions {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  readonly registry: ServiceRegistry;
  readonly topics: TopicRegistry;
  readonly peers: Peers;
  /** How often every peer is told again (heals lost announcements); 0 = never. */
  readonly intervalMs: number;
  /** A draining node announces `drain` instead of its services. */
  readonly isDraining: () => boolean;
  /** A peer's offer changed (its announcement applied), or it started draining. */
  readonly onPeerChange: (change: PeerChange) => void;
}

/**
 * What this node offers and what its peers offer: it builds the node's announcement (public services and
 * their topic subscriptions), sends it to each peer that joins, to everyone on `announce()` and every
 * `intervalMs`, and applies peers' announcements and drain frames to the service and topic registries.
 */
export class Announcements {
  /** Peers that announced they are draining: their announcements are ignored until they leave. */
  private readonly drainingPeers = new Set<string>();
  /** Each peer's last offer, so watchers hear of changes, not of every re-announcement. */
  private readonly offers = new Map<string, string>();
  private cancelTimer: (() => void) | undefined;

  private readonly options: AnnouncementsOptions;

  constructor(options: AnnouncementsOptions) {
    this.options = options;
  }

  /** What this node tells a peer: its offer, or that it is draining. */
  frame(): AnnounceFrame | DrainFrame {
    const { nodeId, registry, topics } = this.options;
    if (this.options.isDraining()) return { kind: "drain", from: nodeId };
    // A private service's name never leaves the node, and no peer may deliver to it anyway.
    const subscriptions = topics
      .localSubscriptions()
      .filter(({ service }) => registry.localService(service)?.entry.visibility === "public");
    const services = registry.publicServices();
    return { kind: "announce", from: nodeId, services, ...(subscriptions.length > 0 ? { topics: subscriptions } : {}) };
  }

  /** Introduces this node to `peer`, or to every peer of `connection`. */
  introduce(connection: Connection, peer?: string): void {
    this.options.peers.send(connection, this.frame(), peer);
  }

  /** Tells every peer what this node offers now (a draining node stays silent: it said `drain`). */
  announce(): void {
    const { peers } = this.options;
    if (this.options.isDraining() || peers.connections.length === 0) return;
    peers.broadcast(this.frame());
  }

  /** Starts the periodic re-announcement, once (a node alone holds no timer: it starts with the first transport). */
  startTimer(): void {
    if (this.cancelTimer || this.options.intervalMs <= 0) return;
    this.schedule();
  }

  stopTimer(): void {
    this.cancelTimer?.();
  }

  /** A peer's announcement replaces its previous one; a draining peer's (sent before its drain frame) changes nothing. */
  applyAnnouncement(frame: AnnounceFrame): void {
    if (this.drainingPeers.has(frame.from)) return;
    this.options.registry.registerRemote(frame.from, frame.services);
    this.options.topics.registerRemote(frame.from, frame.topics ?? []);
    const offer = JSON.stringify(frame.services);
    if (this.offers.get(frame.from) === offer) return;
    this.offers.set(frame.from, offer);
    this.options.onPeerChange({ kind: "offered", node: frame.from, services: frame.services });
  }

  /** A draining peer is chosen no more (its services and subscriptions go), but its answers still count. */
  peerDraining(peer: string): void {
    if (this.drainingPeers.has(peer)) return;
    this.drainingPeers.add(peer);
    this.forgetOffers(peer);
    this.options.telemetry.emit("node_draining", {}, { node: peer });
    this.options.onPeerChange({ kind: "draining", node: peer });
  }

  /** A peer left: everything it offered goes. */
  peerLeft(peer: string): void {
    this.drainingPeers.delete(peer);
    this.forgetOffers(peer);
  }

  clear(): void {
    this.drainingPeers.clear();
    this.offers.clear();
  }

  private forgetOffers(peer: string): void {
    this.offers.delete(peer);
    this.options.registry.unregisterNode(peer);
    this.options.topics.unregisterNode(peer);
  }

  private schedule(): void {
    this.cancelTimer = this.options.clock.setTimeout(() => {
      if (this.options.isDraining() || this.options.peers.connections.length === 0) return;
      this.announce();
      this.schedule();
    }, this.options.intervalMs);
  }
}
