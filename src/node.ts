import { type Clock, systemClock } from "./clock.ts";
import { SdkClientError, SdkErrorCode } from "./errors.ts";
import { DEFAULT_MAX_FRAME_BYTES, decodeFrame, encodeFrame, type Frame, type RequestFrame } from "./frames.ts";
import { isValidName } from "./ids.ts";
import { Message } from "./message.ts";
import { type NodeOrder, randomOrder } from "./node-order.ts";
import { LOCAL, type Provider, ServiceRegistry } from "./registry.ts";
import { Response, type TriedNode } from "./response.ts";
import { type AnyRouter, type NoReply, noReply } from "./router.ts";
import { describeError, type ServeContext, serve } from "./serve.ts";
import { createTelemetry, type Telemetry } from "./telemetry.ts";
import type { Transport, TransportLink } from "./transport.ts";

export interface NodeOptions {
  /** This node's id, unique among its peers. @default a random id */
  id?: string;
  /** @default systemClock */
  clock?: Clock;
  /** @default a new bus */
  telemetry?: Telemetry;
  /** How often public services are re-announced to every peer (heals missed announcements); 0 turns it off. @default 20_000 */
  announceIntervalMs?: number;
  /** Default per-attempt timeout of `dispatch`. @default 5_000 */
  timeoutMs?: number;
  /** Largest frame this node sends or accepts. @default 1_048_576 */
  maxFrameBytes?: number;
  /** Order in which several remote providers are tried. @default randomOrder() */
  nodeOrder?: NodeOrder;
}

export interface DispatchOptions {
  /** How long each provider gets to answer. @default the node's `timeoutMs` (5_000) */
  timeoutMs?: number;
  /** The order remote providers are tried in, for this dispatch. @default the node's `nodeOrder` */
  nodeOrder?: NodeOrder;
}

/**
 * A node: registers routers, announces their public services to peers over its transports, and
 * dispatches messages to whichever node offers the service.
 *
 * @example
 * import { createNode, Message } from "x3m-system";
 * const node = createNode();
 * node.register(greeter);
 * const reply = await node.dispatch(Message.new("greet", { rawRequest: { name: "Ada" } }));
 */
export interface SystemNode {
  readonly id: string;
  readonly telemetry: Telemetry;
  /** The node's service table (read it; the node keeps it up to date). */
  readonly registry: ServiceRegistry;
  /** Registers routers and announces their public services to every peer. */
  register(...routers: AnyRouter[]): void;
  /** Joins the peers reachable through `transport`. */
  connect(transport: Transport): Promise<void>;
  /** Finds a provider, runs the service there and returns the resolved message. Never throws for a failed call. */
  dispatch(message: Message, options?: DispatchOptions): Promise<Message>;
  /** `dispatch` with `dryRun: true` (kept when it is already `"verbose"`). */
  validate(message: Message, options?: DispatchOptions): Promise<Message>;
  /** Asks the first provider's router whether `message` would be authorized. */
  authorized(message: Message, options?: DispatchOptions): Promise<boolean | "service_unavailable">;
  /** The providers of `message.serviceName`: the local one alone when there is one, else every remote; `[]` if none. */
  discover(message: Message): Provider[];
  /** Ids of the peers this node knows. */
  peers(): string[];
  /** Tells peers it is leaving, fails requests in flight, closes its transports. */
  close(): Promise<void>;
}

type Outcome =
  | { kind: "reply"; message: Message }
  | { kind: "timeout" }
  | { kind: "failed"; reason: unknown }
  | { kind: "rejected"; error: SdkClientError };

interface Connection {
  readonly transport: Transport;
}

interface PendingAttempt {
  readonly node: string;
  settle(outcome: Outcome): void;
}

function randomNodeId(): string {
  return `node-${crypto.randomUUID().slice(0, 8)}`;
}

/** Creates a node. It serves nothing until routers are registered, and is alone until a transport is connected. */
export function createNode(options: NodeOptions = {}): SystemNode {
  return new Node(options);
}

class Node implements SystemNode {
  readonly id: string;
  readonly telemetry: Telemetry;
  readonly registry = new ServiceRegistry();
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly nodeOrder: NodeOrder;
  private readonly announceIntervalMs: number;
  private readonly connections: Connection[] = [];
  private readonly peerConnections = new Map<string, Connection>();
  private readonly pending = new Map<string, PendingAttempt>();
  private readonly attemptPrefix = crypto.randomUUID().slice(0, 8);
  private readonly serveContext: ServeContext;
  private attemptCounter = 0;
  private cancelAnnounceTimer: (() => void) | undefined;
  private closed = false;

  constructor(options: NodeOptions) {
    this.id = options.id ?? randomNodeId();
    if (!isValidName(this.id) || this.id === LOCAL) {
      throw new SdkClientError(SdkErrorCode.INVALID_NODE_ID, `"${String(this.id)}" cannot be a node id`);
    }
    this.clock = options.clock ?? systemClock;
    this.telemetry = options.telemetry ?? createTelemetry();
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.nodeOrder = options.nodeOrder ?? randomOrder();
    this.serveContext = {
      nodeId: this.id,
      clock: this.clock,
      telemetry: this.telemetry,
      forward: (node, message) => this.forward(node, message),
    };
    this.announceIntervalMs = options.announceIntervalMs ?? 20_000;
  }

  register(...routers: AnyRouter[]): void {
    this.assertOpen();
    for (const router of routers) {
      const services = this.registry.registerLocal(router);
      this.telemetry.emit("register_local_services", {}, services);
    }
    this.announce();
  }

  async connect(transport: Transport): Promise<void> {
    this.assertOpen();
    const connection: Connection = { transport };
    const link: TransportLink = {
      nodeId: this.id,
      receive: (text, sender) => this.receive(connection, text, sender),
      peerJoined: (peer) => this.peerJoined(connection, peer),
      peerLeft: (peer) => this.peerLeft(connection, peer, "node_left"),
    };
    await transport.open(link);
    if (this.closed) {
      // close() ran while the transport was opening: leave nothing connected behind.
      await transport.close();
      throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `node "${this.id}" is closed`);
    }
    this.connections.push(connection);
    // A node alone holds no timer: the periodic re-announcement starts with the first transport.
    if (!this.cancelAnnounceTimer && this.announceIntervalMs > 0) this.scheduleAnnounce(this.announceIntervalMs);
    this.send(connection, { kind: "announce", from: this.id, services: this.registry.publicServices() });
  }

  discover(message: Message): Provider[] {
    return this.registry.findProviders(message.serviceName);
  }

  peers(): string[] {
    return [...this.peerConnections.keys()];
  }

  async validate(message: Message, options?: DispatchOptions): Promise<Message> {
    if (message.halted) return message;
    return this.dispatch(message.dryRun === false ? message.withDryRun(true) : message, options);
  }

  async dispatch(message: Message, options: DispatchOptions = {}): Promise<Message> {
    if (message.halted) return message;
    this.assertOpen();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const { clock, telemetry } = this;
    const startedAt = clock.now();
    const sent = message.with({ invokedAt: startedAt, originNode: message.originNode ?? this.id });
    const meta = telemetry.active ? { message: sent, callerNode: this.id } : undefined;
    if (meta) telemetry.emit("discovering_service", { start: startedAt, monoStart: startedAt }, meta);

    const found = this.discover(sent);
    if (found.length === 0) {
      if (meta) {
        const time = clock.now();
        telemetry.emit("service_not_found", { time, duration: time - startedAt }, meta);
      }
      return sent.return(Response.serviceUnavailable(sent.serviceName));
    }
    const providers = found.length > 1 ? (options.nodeOrder ?? this.nodeOrder)(found, sent) : found;
    const tried: TriedNode[] = [];
    for (const provider of providers) {
      // Telemetry is built only when someone listens: it is most of the cost of a fast local call.
      const serviceMeta = meta && { ...meta, serviceNode: provider.node };
      const invokedAt = serviceMeta ? clock.now() : 0;
      if (serviceMeta) {
        telemetry.emit("service_found", { time: invokedAt, duration: invokedAt - startedAt }, serviceMeta);
        telemetry.emit("invoking_service", { start: invokedAt, monoStart: invokedAt }, serviceMeta);
      }
      // Every attempt starts from the message as sent: never from a halted earlier reply (reference §4.4 bug).
      const attempt =
        provider.node === LOCAL
          ? this.invokeLocal(sent, timeoutMs)
          : this.invokeRemote(provider.node, sent, { op: "invoke", timeoutMs });
      const outcome = attempt instanceof Promise ? await attempt : attempt;
      const resolved = this.resolve(sent, outcome, timeoutMs);
      if (serviceMeta) {
        const time = clock.now();
        telemetry.emit(
          "service_responded",
          { time, duration: time - invokedAt },
          { ...serviceMeta, message: resolved },
        );
      }
      if (outcome.kind === "failed") {
        tried.push({ node: provider.node, reason: outcome.reason });
        continue;
      }
      if (resolved.response?.status === "try_another_node") {
        tried.push({ node: provider.node, reason: resolved.response.reason });
        continue;
      }
      return resolved;
    }
    return sent.return(Response.noNodesAvailable(tried));
  }

  async authorized(message: Message, options: DispatchOptions = {}): Promise<boolean | "service_unavailable"> {
    this.assertOpen();
    const now = this.clock.now();
    const sent = message.with({ invokedAt: now, originNode: message.originNode ?? this.id });
    this.telemetry.emit(
      "checking_if_service_call_is_authorized",
      { start: now, monoStart: now },
      { message: sent, callerNode: this.id },
    );
    const [first] = this.discover(sent);
    if (!first) return "service_unavailable";
    if (first.node === LOCAL) {
      const local = this.registry.localService(sent.serviceName);
      return local ? local.router.authorized(sent) : "service_unavailable";
    }
    const outcome = await this.invokeRemote(first.node, sent, {
      op: "authorize",
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
    });
    if (outcome.kind !== "reply") return false;
    const { response } = outcome.message;
    if (response?.status === "service_unavailable") return "service_unavailable";
    return response?.status === "ok" && response.payload === true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelAnnounceTimer?.();
    for (const connection of this.connections) this.send(connection, { kind: "leave", from: this.id });
    for (const attempt of [...this.pending.values()]) attempt.settle({ kind: "failed", reason: "node_closed" });
    await Promise.all(this.connections.map((c) => c.transport.close()));
    this.connections.length = 0;
    this.peerConnections.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `node "${this.id}" is closed`);
  }

  private resolve(sent: Message, outcome: Outcome, timeoutMs: number): Message {
    switch (outcome.kind) {
      case "reply":
        return outcome.message;
      case "timeout":
        return sent.return(Response.serviceTimeout(sent.serviceName, sent.id, timeoutMs));
      case "rejected":
        return sent.error({ code: outcome.error.code, message: outcome.error.message });
      case "failed":
        return sent;
    }
  }

  /**
   * Runs a local service. A synchronous service answers synchronously (no timer, no promise hop); a
   * pending one races the timeout; `noReply` makes the caller wait for the timeout, as in the original.
   */
  private invokeLocal(message: Message, timeoutMs: number): Outcome | Promise<Outcome> {
    const local = this.registry.localService(message.serviceName);
    if (!local) return { kind: "failed", reason: "service_gone" };
    const served = serve(local, message, this.serveContext);
    if (served instanceof Message) return { kind: "reply", message: served };
    const pending = served === noReply ? undefined : served;
    return this.withTimeout(timeoutMs, (settle, isSettled) => {
      pending?.then(
        (result) => {
          if (result === noReply) return;
          if (isSettled()) this.telemetry.emit("late_reply_dropped", {}, { service: message.serviceName, from: LOCAL });
          else settle({ kind: "reply", message: result });
        },
        (error) => settle({ kind: "reply", message: message.error({ exception: describeError(error) }) }),
      );
    });
  }

  private invokeRemote(
    node: string,
    message: Message,
    options: { op: RequestFrame["op"]; timeoutMs: number; forwarded?: boolean },
  ): Promise<Outcome> {
    const connection = this.peerConnections.get(node);
    if (!connection) return Promise.resolve({ kind: "failed", reason: "node_unreachable" });
    const attemptId = `${this.attemptPrefix}-${(++this.attemptCounter).toString(36)}`;
    return this.withTimeout(options.timeoutMs, (settle) => {
      this.pending.set(attemptId, { node, settle });
      const frame: RequestFrame = {
        kind: "request",
        from: this.id,
        attemptId,
        op: options.op,
        envelope: message,
        ...(options.forwarded ? { forwarded: true } : {}),
      };
      let text: string;
      try {
        text = encodeFrame(frame, this.maxFrameBytes);
      } catch (error) {
        return settle({ kind: "rejected", error: SdkClientError.from(error, SdkErrorCode.INVALID_FRAME) });
      }
      try {
        connection.transport.send(text, node);
      } catch (error) {
        settle({ kind: "failed", reason: { transportError: describeError(error).message } });
      }
    }).finally(() => this.pending.delete(attemptId));
  }

  /** Runs `start`, settling with the first outcome or with a timeout after `timeoutMs`. */
  private withTimeout(
    timeoutMs: number,
    start: (settle: (outcome: Outcome) => void, isSettled: () => boolean) => void,
  ): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      const settle = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        cancelTimer();
        resolve(outcome);
      };
      const cancelTimer = this.clock.setTimeout(() => settle({ kind: "timeout" }), timeoutMs);
      start(settle, () => settled);
    });
  }

  private async forward(node: string, message: Message): Promise<Message | NoReply> {
    const outcome = await this.invokeRemote(node, message, {
      op: "invoke",
      timeoutMs: this.timeoutMs,
      forwarded: true,
    });
    if (outcome.kind === "reply") return outcome.message;
    return message.error({
      code: "forward_failed",
      node,
      reason: outcome.kind === "failed" ? outcome.reason : outcome.kind,
    });
  }

  private receive(connection: Connection, text: string, sender?: string): void {
    if (this.closed) return;
    const decoded = decodeFrame(text, this.maxFrameBytes);
    if (!decoded.ok) {
      this.rejectFrame(connection, text, decoded.error.code, decoded.error.message);
      return;
    }
    const frame = decoded.value;
    if (frame.from === this.id || frame.from === LOCAL || (sender !== undefined && frame.from !== sender)) {
      this.rejectFrame(connection, text, SdkErrorCode.INVALID_FRAME, `frame claims to come from "${frame.from}"`);
      return;
    }
    const known = this.peerConnections.get(frame.from);
    if (known && known !== connection) {
      // A node id is reached through one connection; the same id on another one is not that node.
      this.rejectFrame(
        connection,
        text,
        SdkErrorCode.INVALID_FRAME,
        `"${frame.from}" is connected through another transport`,
      );
      return;
    }
    switch (frame.kind) {
      case "announce":
        this.notePeer(connection, frame.from);
        this.registry.registerRemote(frame.from, frame.services);
        return;
      case "leave":
        this.peerLeft(connection, frame.from, "node_left");
        return;
      case "request":
        this.notePeer(connection, frame.from);
        void this.serveRemote(connection, frame);
        return;
      case "reply":
        this.settleReply(frame.from, frame.attemptId, frame.envelope);
        return;
    }
  }

  private rejectFrame(connection: Connection, text: unknown, code: string, reason: string): void {
    // UTF-16 length, not bytes: measuring bytes would mean encoding a possibly huge hostile frame.
    const chars = typeof text === "string" ? text.length : 0;
    this.telemetry.emit(
      "frame_rejected",
      { chars },
      { code, reason, transport: connection.transport.name, node: this.id },
    );
  }

  private settleReply(from: string, attemptId: string, envelope: Message): void {
    const attempt = this.pending.get(attemptId);
    if (!attempt || attempt.node !== from) {
      this.telemetry.emit("late_reply_dropped", {}, { attemptId, from, service: envelope.serviceName });
      return;
    }
    attempt.settle({ kind: "reply", message: envelope });
  }

  private async serveRemote(connection: Connection, frame: RequestFrame): Promise<void> {
    const message = frame.envelope;
    const local = this.registry.localService(message.serviceName);
    let reply: Message | NoReply;
    // Private services are never served to a request that arrived over a transport.
    if (!local || local.entry.visibility === "private") {
      reply = message.return(Response.serviceUnavailable(message.serviceName));
    } else if (frame.op === "authorize") {
      reply = message.ok(await local.router.authorized(message));
    } else {
      reply = await serve(local, message, this.serveContext, { forwarded: frame.forwarded === true });
    }
    if (reply === noReply || this.closed) return;
    try {
      this.sendOrThrow(
        connection,
        { kind: "reply", from: this.id, attemptId: frame.attemptId, envelope: reply },
        frame.from,
      );
    } catch (error) {
      // The reply could not be sent (too large, not serializable): tell the caller instead of letting it time out.
      const failure = message.error({ code: SdkClientError.from(error).code, message: describeError(error).message });
      this.send(
        connection,
        { kind: "reply", from: this.id, attemptId: frame.attemptId, envelope: failure },
        frame.from,
      );
    }
  }

  private notePeer(connection: Connection, peer: string): void {
    if (this.peerConnections.has(peer)) return;
    this.peerConnections.set(peer, connection);
    this.telemetry.emit("node_joined", {}, { node: peer });
    this.send(connection, { kind: "announce", from: this.id, services: this.registry.publicServices() }, peer);
  }

  private peerJoined(connection: Connection, peer: string): void {
    if (this.closed || peer === this.id || !isValidName(peer)) return;
    this.notePeer(connection, peer);
  }

  private peerLeft(connection: Connection, peer: string, reason: string): void {
    if (this.peerConnections.get(peer) !== connection) return;
    this.peerConnections.delete(peer);
    this.registry.unregisterNode(peer);
    for (const attempt of [...this.pending.values()]) {
      if (attempt.node === peer) attempt.settle({ kind: "failed", reason });
    }
    this.telemetry.emit("node_left", {}, { node: peer });
  }

  private announce(): void {
    const services = this.registry.publicServices();
    for (const connection of this.connections) this.send(connection, { kind: "announce", from: this.id, services });
  }

  private scheduleAnnounce(intervalMs: number): void {
    this.cancelAnnounceTimer = this.clock.setTimeout(() => {
      if (this.closed) return;
      this.announce();
      this.scheduleAnnounce(intervalMs);
    }, intervalMs);
  }

  private sendOrThrow(connection: Connection, frame: Frame, to?: string): void {
    connection.transport.send(encodeFrame(frame, this.maxFrameBytes), to);
  }

  /** Best-effort send for announce/leave/failure replies: a transport that fails here is reported, not thrown. */
  private send(connection: Connection, frame: Frame, to?: string): void {
    try {
      this.sendOrThrow(connection, frame, to);
    } catch (error) {
      this.telemetry.emit(
        "frame_rejected",
        {},
        {
          code: "SEND_FAILED",
          reason: describeError(error).message,
          transport: connection.transport.name,
          node: this.id,
        },
      );
    }
  }
}
