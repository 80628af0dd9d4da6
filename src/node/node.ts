import { LOCAL } from "../announced.ts";
import { systemClock } from "../clock.ts";
import { SdkClientError, SdkErrorCode } from "../errors.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../frames.ts";
import { isValidName } from "../ids.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { type CastResult, cast } from "../mesh/cast.ts";
import { Drain, type DrainOptions, type NodeState } from "../mesh/drain.ts";
import { publish } from "../mesh/publish.ts";
import { type PublishOptions, type TopicDelivery, TopicRegistry } from "../mesh/pubsub.ts";
import type { Message } from "../message.ts";
import { randomOrder } from "../node-order.ts";
import { type Provider, ServiceRegistry } from "../registry.ts";
import type { AnyRouter } from "../router.ts";
import type { ServeContext } from "../serve.ts";
import { createTelemetry, type Telemetry } from "../telemetry.ts";
import type { Transport } from "../transport.ts";
import { Announcements } from "./announcements.ts";
import { type Caller, checkTimeout, type DispatchOptions } from "./caller.ts";
import { type AuthorizedAnswer, authorized, dispatch } from "./dispatch.ts";
import { InFlight } from "./in-flight.ts";
import { LocalCalls } from "./local-calls.ts";
import { type PeerChange, PeerWatch } from "./peer-watch.ts";
import { type Connection, type PeerFrame, Peers } from "./peers.ts";
import { RemoteCalls } from "./remote-calls.ts";
import { Serving } from "./serving.ts";
import type { NodeOptions, SystemNode } from "./system-node.ts";

function randomNodeId(): string {
  return `node-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Creates a node. It serves nothing until routers are registered, and is alone until a transport is connected.
 *
 * @example
 * import { createNode } from "x3m-system";
 * const node = createNode({ id: "web-1", timeoutMs: 5_000 });
 */
export function createNode(options: NodeOptions = {}): SystemNode {
  return new Node(options);
}

/**
 * A node composed of parts a reader can take one at a time: `Peers` (connections, vetting frames),
 * `Announcements` (what it and its peers offer), `RemoteCalls` (its requests to peers), `LocalCalls`
 * (attempts served here), `Serving` (peers' requests), the caller side (`dispatch`, `authorized`, `cast`,
 * `publish`) and `Drain`. The node itself only wires them and keeps the lifecycle: running, draining, stopped.
 */
class Node implements SystemNode {
  readonly id: string;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  readonly registry = new ServiceRegistry();
  readonly topics = new TopicRegistry();
  private readonly caller: Caller;
  private readonly peerTable: Peers;
  private readonly announcements: Announcements;
  private readonly remote: RemoteCalls;
  private readonly serving: Serving;
  private readonly inFlight: InFlight;
  private readonly drainer: Drain;
  private readonly peerWatch = new PeerWatch();
  private closed = false;

  constructor(options: NodeOptions) {
    this.id = options.id ?? randomNodeId();
    if (!isValidName(this.id) || this.id === LOCAL) {
      throw new SdkClientError(SdkErrorCode.INVALID_NODE_ID, `"${String(this.id)}" cannot be a node id`);
    }
    const nodeId = this.id;
    const clock = options.clock ?? systemClock;
    const telemetry = options.telemetry ?? createTelemetry();
    const logger = options.logger ?? silentLogger;
    this.telemetry = telemetry;
    this.logger = logger;
    // What every part knows: who this node is, its time, its telemetry and its logger.
    const self = { nodeId, clock, telemetry, logger };
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const timeoutMs = checkTimeout(options.timeoutMs, 5_000);
    const isClosed = () => this.closed;
    const isDraining = () => this.drainer.active;
    const { registry, topics } = this;

    this.inFlight = new InFlight(() => this.drainer.check());
    const peers = new Peers(
      { ...self, maxFrameBytes, isClosed },
      {
        introduce: (connection, peer) => this.announcements.introduce(connection, peer),
        joined: (peer) => this.peerWatch.emit({ kind: "joined", node: peer }),
        frame: (connection, frame) => this.onFrame(connection, frame),
        left: (peer, reason) => this.peerLeft(peer, reason),
      },
    );
    this.peerTable = peers;
    const intervalMs = options.announceIntervalMs ?? 20_000;
    const onPeerChange = (change: PeerChange) => this.peerWatch.emit(change);
    this.announcements = new Announcements({ ...self, registry, topics, peers, intervalMs, isDraining, onPeerChange });
    const remote = new RemoteCalls({ ...self, maxFrameBytes, peers, onSettled: () => this.drainer.check() });
    this.remote = remote;
    // A router's `chooseNode` picked another node: run it there, without choosing again.
    const context: ServeContext = { ...self, forward: (node, message) => remote.forward(node, message, timeoutMs) };
    const local = new LocalCalls(context, this.inFlight);
    this.serving = new Serving({ context, registry, peers, local, inFlight: this.inFlight, isDraining, isClosed });
    const nodeOrder = options.nodeOrder ?? randomOrder();
    this.caller = { ...self, registry, local, remote, nodeOrder, timeoutMs, assertOpen: () => this.assertOpen() };
    this.drainer = new Drain({
      ...self,
      busy: () => this.inFlight.size + remote.size,
      tellPeers: () => {
        this.announcements.stopTimer();
        peers.broadcast({ kind: "drain", from: nodeId });
      },
      leave: () => this.close(),
    });
  }

  get state(): NodeState {
    return this.closed ? "stopped" : this.drainer.active ? "draining" : "running";
  }

  register(...routers: AnyRouter[]): void {
    this.assertOpen();
    for (const router of routers) {
      const services = this.registry.registerLocal(router);
      this.telemetry.emit("register_local_services", {}, services);
    }
    this.announcements.announce();
  }

  async connect(transport: Transport): Promise<void> {
    this.assertOpen();
    if (this.drainer.active) throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `node "${this.id}" is draining`);
    const connection = await this.peerTable.open(transport);
    this.announcements.startTimer();
    this.announcements.introduce(connection);
  }

  discover(message: Message): Provider[] {
    return this.registry.findProviders(message.serviceName);
  }

  watchPeers(listener: (change: PeerChange) => void): () => void {
    return this.peerWatch.watch(listener);
  }

  peers(): string[] {
    return this.peerTable.ids();
  }

  dispatch(message: Message, options?: DispatchOptions): Promise<Message> {
    return dispatch(this.caller, message, options);
  }

  async validate(message: Message, options?: DispatchOptions): Promise<Message> {
    if (message.halted) return message;
    return this.dispatch(message.dryRun === false ? message.withDryRun(true) : message, options);
  }

  authorized(message: Message, options?: DispatchOptions): Promise<AuthorizedAnswer> {
    return authorized(this.caller, message, options);
  }

  cast(message: Message, options?: DispatchOptions): Promise<CastResult> {
    return cast(this.caller, message, options);
  }

  subscribe(topic: string, serviceName: string): () => void {
    this.assertOpen();
    for (const name of [topic, serviceName]) {
      if (!isValidName(name)) {
        throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `"${String(name)}" cannot be a topic or service name`);
      }
    }
    if (this.topics.subscribe(topic, serviceName)) this.announcements.announce();
    return () => {
      this.unsubscribe(topic, serviceName);
    };
  }

  unsubscribe(topic: string, serviceName: string): boolean {
    const removed = this.topics.unsubscribe(topic, serviceName);
    if (removed && !this.closed) this.announcements.announce();
    return removed;
  }

  publish(topic: string, message: Message, options: PublishOptions = {}): Promise<TopicDelivery[]> {
    return publish(this.caller, this.topics, { topic, message, options });
  }

  drain(options: DrainOptions = {}): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.drainer.start(options.timeoutMs ?? 30_000);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.announcements.stopTimer();
    this.drainer.halt();
    this.peerTable.broadcast({ kind: "leave", from: this.id });
    this.remote.failAll("node_closed");
    await this.peerTable.closeAll();
    this.announcements.clear();
    this.drainer.closed();
  }

  /** A checked frame from a peer (the peer table already made its sender a peer where due). */
  private onFrame(connection: Connection, frame: PeerFrame): void {
    switch (frame.kind) {
      case "announce":
        this.announcements.applyAnnouncement(frame);
        return;
      case "drain":
        this.announcements.peerDraining(frame.from);
        return;
      case "request":
        this.serving.serve(connection, frame);
        return;
      case "reply":
        this.remote.settle(frame.from, frame.attemptId, { kind: "reply", message: frame.envelope }, frame.envelope);
        return;
      case "accepted":
        this.remote.settle(frame.from, frame.attemptId, { kind: "accepted" });
        return;
    }
  }

  private peerLeft(peer: string, reason: string): void {
    this.announcements.peerLeft(peer);
    this.remote.failTo(peer, reason);
    this.telemetry.emit("node_left", {}, { node: peer });
    this.peerWatch.emit({ kind: "left", node: peer, reason });
  }

  private assertOpen(): void {
    if (this.closed) throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `node "${this.id}" is closed`);
  }
}
