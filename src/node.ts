import { type Clock, systemClock } from "./clock.ts";
import { SdkClientError, SdkErrorCode } from "./errors.ts";
import {
  type AnnounceFrame,
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  type Frame,
  type RequestFrame,
} from "./frames.ts";
import { isValidName } from "./ids.ts";
import { type CastResult, castFailed, triesNextProvider } from "./mesh/cast.ts";
import { DRAINING, type DrainOptions, type NodeState } from "./mesh/drain.ts";
import { type PublishOptions, type TopicDelivery, TopicRegistry, topicCopy } from "./mesh/pubsub.ts";
import { childTraceparent, newTraceparent, spanIdOf } from "./mesh/trace-context.ts";
import { Message } from "./message.ts";
import { type NodeOrder, randomOrder } from "./node-order.ts";
import { LOCAL, type Provider, ServiceRegistry } from "./registry.ts";
import { Response, type TriedNode } from "./response.ts";
import { type AnyRouter, type NoReply, noReply } from "./router.ts";
import { describeError, type ServeContext, type Served, serve } from "./serve.ts";
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
  /** The node's topic subscriptions and its peers' (read it; `subscribe` changes it). */
  readonly topics: TopicRegistry;
  /** `running`, then `draining` after `drain()`, then `stopped` once it left (`drain` or `close`). */
  readonly state: NodeState;
  /** Registers routers and announces their public services to every peer. */
  register(...routers: AnyRouter[]): void;
  /** Joins the peers reachable through `transport`. */
  connect(transport: Transport): Promise<void>;
  /** Finds a provider, runs the service there and returns the resolved message. Never throws for a failed call. */
  dispatch(message: Message, options?: DispatchOptions): Promise<Message>;
  /**
   * Fire-and-forget: resolves once a provider authorized the message and started it, without waiting for
   * its result. Providers that decline (`try_another_node`, draining) or are gone are skipped.
   */
  cast(message: Message, options?: DispatchOptions): Promise<CastResult>;
  /** Makes local service `serviceName` receive every message published on `topic`; returns the unsubscribe. */
  subscribe(topic: string, serviceName: string): () => void;
  /** Withdraws a subscription; returns whether there was one. */
  unsubscribe(topic: string, serviceName: string): boolean;
  /** Delivers a caused-by copy of `message` to every subscriber of `topic` it can reach, here and on peers. */
  publish(topic: string, message: Message, options?: PublishOptions): Promise<TopicDelivery[]>;
  /** `dispatch` with `dryRun: true` (kept when it is already `"verbose"`). */
  validate(message: Message, options?: DispatchOptions): Promise<Message>;
  /** Asks the first provider's router whether `message` would be authorized. */
  authorized(message: Message, options?: DispatchOptions): Promise<boolean | "service_unavailable">;
  /** The providers of `message.serviceName`: the local one alone when there is one, else every remote; `[]` if none. */
  discover(message: Message): Provider[];
  /** Ids of the peers this node knows. */
  peers(): string[];
  /**
   * Leaves gracefully: tells peers (who stop choosing it at once), answers their new requests with
   * `try_another_node`, finishes the work in flight (at most `timeoutMs`), then leaves like `close()`.
   */
  drain(options?: DrainOptions): Promise<void>;
  /** Leaves at once: tells peers it is leaving, fails requests in flight, closes its transports. */
  close(): Promise<void>;
}

type Outcome =
  | { kind: "reply"; message: Message }
  | { kind: "accepted" }
  | { kind: "timeout" }
  | { kind: "failed"; reason: unknown }
  | { kind: "rejected"; error: SdkClientError };

interface Connection {
  readonly transport: Transport;
}

interface PendingAttempt {
  readonly node: string;
  readonly op: RequestFrame["op"];
  settle(outcome: Outcome): void;
}

interface Draining {
  readonly startedAt: number;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly cancelTimer: () => void;
  finishing: boolean;
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
  readonly topics = new TopicRegistry();
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
  /** Peers that announced they are draining: their announcements are ignored until they leave. */
  private readonly drainingPeers = new Set<string>();
  private attemptCounter = 0;
  /** Calls running on this node that have not answered yet (async handlers, peers' requests, accepted casts). */
  private inFlight = 0;
  private cancelAnnounceTimer: (() => void) | undefined;
  private draining: Draining | undefined;
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

  get state(): NodeState {
    return this.closed ? "stopped" : this.draining ? "draining" : "running";
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
    if (this.draining) throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `node "${this.id}" is draining`);
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
    this.send(connection, this.draining ? { kind: "drain", from: this.id } : this.announceFrame());
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
    const sent = this.stamp(message, startedAt);
    const meta = telemetry.active ? this.callMeta(sent, message) : undefined;
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
    for (let i = 0; i < providers.length; i++) {
      const provider = providers[i] as Provider;
      // Every attempt starts from the message as sent: never from a halted earlier reply (reference §4.4 bug).
      // Each attempt is a span of its own: the first one's id is already in `sent`.
      const sentNow = i === 0 ? sent : nextAttempt(sent);
      // Telemetry is built only when someone listens: it is most of the cost of a fast local call.
      const serviceMeta = meta && this.attemptMeta(meta, sentNow, provider.node);
      const invokedAt = serviceMeta ? clock.now() : 0;
      if (serviceMeta) {
        telemetry.emit("service_found", { time: invokedAt, duration: invokedAt - startedAt }, serviceMeta);
        telemetry.emit("invoking_service", { start: invokedAt, monoStart: invokedAt }, serviceMeta);
      }
      const attempt =
        provider.node === LOCAL
          ? this.invokeLocal(sentNow, timeoutMs)
          : this.invokeRemote(provider.node, sentNow, { op: "invoke", timeoutMs });
      const outcome = attempt instanceof Promise ? await attempt : attempt;
      const resolved = this.resolve(sentNow, outcome, timeoutMs);
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

  async cast(message: Message, options: DispatchOptions = {}): Promise<CastResult> {
    if (message.halted) return { accepted: false, response: message.response ?? Response.error("halted") };
    this.assertOpen();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const { clock, telemetry } = this;
    const startedAt = clock.now();
    const sent = this.stamp(message, startedAt);
    const meta = telemetry.active ? { ...this.callMeta(sent, message), cast: true } : undefined;
    if (meta) telemetry.emit("discovering_service", { start: startedAt, monoStart: startedAt }, meta);
    const found = this.discover(sent);
    const providers = found.length > 1 ? (options.nodeOrder ?? this.nodeOrder)(found, sent) : found;
    const tried: TriedNode[] = [];
    let refusal: Response | undefined = found.length === 0 ? Response.serviceUnavailable(sent.serviceName) : undefined;
    if (meta && refusal) {
      const time = clock.now();
      telemetry.emit("service_not_found", { time, duration: time - startedAt }, meta);
    }
    for (let i = 0; i < providers.length && !refusal; i++) {
      const provider = providers[i] as Provider;
      const sentNow = i === 0 ? sent : nextAttempt(sent);
      const serviceMeta = meta && this.attemptMeta(meta, sentNow, provider.node);
      const invokedAt = clock.now();
      if (serviceMeta) telemetry.emit("invoking_service", { start: invokedAt, monoStart: invokedAt }, serviceMeta);
      const attempt =
        provider.node === LOCAL
          ? this.castLocal(sentNow, timeoutMs)
          : this.invokeRemote(provider.node, sentNow, { op: "cast", timeoutMs });
      const outcome = attempt instanceof Promise ? await attempt : attempt;
      const resolved = this.resolve(sentNow, outcome, timeoutMs);
      if (serviceMeta) {
        const time = clock.now();
        const accepted = outcome.kind === "accepted";
        telemetry.emit(
          "service_responded",
          { time, duration: time - invokedAt },
          { ...serviceMeta, message: resolved, accepted },
        );
      }
      if (outcome.kind === "accepted") return { accepted: true, node: provider.node };
      if (outcome.kind === "failed") tried.push({ node: provider.node, reason: outcome.reason });
      else if (outcome.kind === "reply" && triesNextProvider(resolved)) {
        const response = resolved.response as Response;
        tried.push({ node: provider.node, reason: "reason" in response ? response.reason : response.status });
      } else refusal = resolved.response ?? Response.error("no_response");
    }
    const response = refusal ?? Response.noNodesAvailable(tried);
    const time = clock.now();
    telemetry.emit(
      "cast_rejected",
      { time, duration: time - startedAt },
      { message: sent, response, callerNode: this.id },
    );
    return { accepted: false, response };
  }

  subscribe(topic: string, serviceName: string): () => void {
    this.assertOpen();
    for (const name of [topic, serviceName]) {
      if (!isValidName(name)) {
        throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `"${String(name)}" cannot be a topic or service name`);
      }
    }
    if (this.topics.subscribe(topic, serviceName)) this.announce();
    return () => {
      this.unsubscribe(topic, serviceName);
    };
  }

  unsubscribe(topic: string, serviceName: string): boolean {
    const removed = this.topics.unsubscribe(topic, serviceName);
    if (removed && !this.closed) this.announce();
    return removed;
  }

  async publish(topic: string, message: Message, options: PublishOptions = {}): Promise<TopicDelivery[]> {
    this.assertOpen();
    if (!isValidName(topic))
      throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, `"${String(topic)}" cannot be a topic`);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const startedAt = this.clock.now();
    // The publication is a span; each delivery is a child span of it.
    const published = this.stamp(message, startedAt);
    const deliveries = await Promise.all(
      this.topics
        .subscribers(topic)
        .map(({ node, service }) => this.deliver(topic, published, { node, service, timeoutMs })),
    );
    if (this.telemetry.active) {
      const time = this.clock.now();
      const failed = deliveries.filter((delivery) => !delivery.ok).length;
      this.telemetry.emit(
        "topic_published",
        { time, duration: time - startedAt, subscribers: deliveries.length, failed },
        { ...this.callMeta(published, message), topic, spanId: spanIdOf(published.traceparent as string) },
      );
    }
    return deliveries;
  }

  drain(options: DrainOptions = {}): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.draining) return this.draining.done;
    const startedAt = this.clock.now();
    let resolve: () => void = () => {};
    const done = new Promise<void>((settle) => {
      resolve = settle;
    });
    const cancelTimer = this.clock.setTimeout(() => void this.finishDrain(true), options.timeoutMs ?? 30_000);
    this.draining = { startedAt, done, resolve, cancelTimer, finishing: false };
    this.cancelAnnounceTimer?.();
    for (const connection of this.connections) this.send(connection, { kind: "drain", from: this.id });
    this.telemetry.emit(
      "draining_started",
      { time: startedAt, inFlight: this.inFlight + this.pending.size },
      { node: this.id },
    );
    this.checkDrained();
    return done;
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
    this.draining?.cancelTimer();
    for (const connection of this.connections) this.send(connection, { kind: "leave", from: this.id });
    for (const attempt of [...this.pending.values()]) attempt.settle({ kind: "failed", reason: "node_closed" });
    await Promise.all(this.connections.map((c) => c.transport.close()));
    this.connections.length = 0;
    this.peerConnections.clear();
    this.drainingPeers.clear();
    this.draining?.resolve();
  }

  /** Drained when nothing runs here and no answer is awaited; a timeout ends the wait anyway. */
  private checkDrained(): void {
    if (this.draining && this.inFlight === 0 && this.pending.size === 0) void this.finishDrain(false);
  }

  private async finishDrain(forced: boolean): Promise<void> {
    const draining = this.draining;
    if (!draining || draining.finishing || this.closed) return;
    draining.finishing = true;
    draining.cancelTimer();
    const time = this.clock.now();
    this.telemetry.emit(
      "draining_finished",
      { time, duration: time - draining.startedAt, abandoned: this.inFlight + this.pending.size },
      { node: this.id, forced },
    );
    await this.close();
  }

  /** The message as this node sends it: dispatch time, origin, and a new span (in the caller's trace, or a new one). */
  private stamp(message: Message, now: number): Message {
    const parent = message.traceparent;
    return message.with({
      invokedAt: now,
      originNode: message.originNode ?? this.id,
      traceparent: parent === undefined ? newTraceparent() : childTraceparent(parent),
    });
  }

  /** Telemetry metadata of a call; `parentSpanId` is the span the caller ran in, if it had one. */
  private callMeta(sent: Message, original: Message) {
    const parent = original.traceparent;
    return { message: sent, callerNode: this.id, parentSpanId: parent === undefined ? undefined : spanIdOf(parent) };
  }

  private attemptMeta(meta: ReturnType<Node["callMeta"]>, sent: Message, serviceNode: string) {
    return { ...meta, message: sent, serviceNode, spanId: spanIdOf(sent.traceparent as string) };
  }

  /** One subscriber's delivery of a publication: a caused-by copy, through its node's router. */
  private async deliver(
    topic: string,
    published: Message,
    target: { node: string; service: string; timeoutMs: number },
  ): Promise<TopicDelivery> {
    const { node, service, timeoutMs } = target;
    const { clock, telemetry } = this;
    const copy = topicCopy(published, service, childTraceparent(published.traceparent as string));
    const meta = telemetry.active
      ? {
          message: copy,
          callerNode: this.id,
          serviceNode: node,
          topic,
          spanId: spanIdOf(copy.traceparent as string),
          parentSpanId: spanIdOf(published.traceparent as string),
        }
      : undefined;
    const invokedAt = clock.now();
    if (meta) telemetry.emit("invoking_service", { start: invokedAt, monoStart: invokedAt }, meta);
    const attempt =
      node === LOCAL ? this.invokeLocal(copy, timeoutMs) : this.invokeRemote(node, copy, { op: "invoke", timeoutMs });
    const outcome = attempt instanceof Promise ? await attempt : attempt;
    const resolved = this.resolve(copy, outcome, timeoutMs);
    if (meta) {
      const time = clock.now();
      telemetry.emit("service_responded", { time, duration: time - invokedAt }, { ...meta, message: resolved });
    }
    switch (outcome.kind) {
      case "reply":
        return { node, service, ok: true, reply: resolved };
      case "timeout":
        return { node, service, ok: false, reason: "service_timeout" };
      case "failed":
        return { node, service, ok: false, reason: outcome.reason };
      case "rejected":
        return { node, service, ok: false, reason: { code: outcome.error.code, message: outcome.error.message } };
      case "accepted":
        return { node, service, ok: false, reason: "unexpected_acknowledgement" };
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `node "${this.id}" is closed`);
  }

  private resolve(sent: Message, outcome: Outcome, timeoutMs: number): Message {
    switch (outcome.kind) {
      case "reply":
        // The caller's view of the call: the reply carries the attempt's trace context, not the provider's.
        return outcome.message.traceparent === sent.traceparent
          ? outcome.message
          : outcome.message.with({ traceparent: sent.traceparent });
      case "accepted":
        return sent;
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
    if (pending) this.inFlight++;
    return this.withTimeout(timeoutMs, (settle, isSettled) => {
      pending?.then(
        (result) => {
          this.ran();
          if (result === noReply) return;
          if (isSettled()) this.telemetry.emit("late_reply_dropped", {}, { service: message.serviceName, from: LOCAL });
          else settle({ kind: "reply", message: result });
        },
        (error) => {
          this.ran();
          settle({ kind: "reply", message: message.error({ exception: describeError(error) }) });
        },
      );
    });
  }

  /** A call counted in `inFlight` has finished. */
  private ran(): void {
    this.inFlight--;
    this.checkDrained();
  }

  /**
   * Casts to a local service: accepted once its router authorized it (`onAccepted`), refused with the
   * router's answer otherwise. The handler's outcome is only reported (`cast_failed`), never awaited.
   */
  private castLocal(message: Message, timeoutMs: number): Outcome | Promise<Outcome> {
    const local = this.registry.localService(message.serviceName);
    if (!local) return { kind: "failed", reason: "service_gone" };
    let accepted = false;
    let settleLater: ((outcome: Outcome) => void) | undefined;
    const served = serve(local, message, this.serveContext, {
      onAccepted: () => {
        accepted = true;
        settleLater?.({ kind: "accepted" });
      },
    });
    this.afterCast(served, () => accepted);
    if (!(served instanceof Promise)) {
      if (accepted || served === noReply) return { kind: "accepted" };
      return { kind: "reply", message: served };
    }
    if (accepted) return { kind: "accepted" };
    return this.withTimeout(timeoutMs, (settle) => {
      settleLater = settle;
      served.then(
        (result) => settle(accepted || result === noReply ? { kind: "accepted" } : { kind: "reply", message: result }),
        (error) => settle({ kind: "reply", message: message.error({ exception: describeError(error) }) }),
      );
    });
  }

  /** Reports the outcome of an accepted cast (`cast_failed`), and counts it in flight until it ends. */
  private afterCast(served: Served, accepted: () => boolean): void {
    const report = (result: Message | NoReply) => {
      if (result instanceof Message && accepted() && castFailed(result)) {
        this.telemetry.emit(
          "cast_failed",
          {},
          { node: this.id, service: result.serviceName, message: result, response: result.response },
        );
      }
    };
    if (!(served instanceof Promise)) {
      report(served);
      return;
    }
    this.inFlight++;
    served.then(
      (result) => {
        this.ran();
        report(result);
      },
      () => this.ran(),
    );
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
      this.pending.set(attemptId, { node, op: options.op, settle });
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
    }).finally(() => {
      this.pending.delete(attemptId);
      this.checkDrained();
    });
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
        // A draining peer's announcements (sent before its drain frame, delivered after) change nothing.
        if (this.drainingPeers.has(frame.from)) return;
        this.registry.registerRemote(frame.from, frame.services);
        this.topics.registerRemote(frame.from, frame.topics ?? []);
        return;
      case "drain":
        this.notePeer(connection, frame.from);
        this.peerDraining(frame.from);
        return;
      case "leave":
        this.peerLeft(connection, frame.from, "node_left");
        return;
      case "request":
        this.notePeer(connection, frame.from);
        void this.serveRemote(connection, frame);
        return;
      case "reply":
        this.settleAttempt(frame.from, frame.attemptId, { kind: "reply", message: frame.envelope }, frame.envelope);
        return;
      case "accepted":
        this.settleAttempt(frame.from, frame.attemptId, { kind: "accepted" });
        return;
    }
  }

  /** A draining peer is chosen no more (its services and subscriptions go), but its answers still count. */
  private peerDraining(peer: string): void {
    if (this.drainingPeers.has(peer)) return;
    this.drainingPeers.add(peer);
    this.registry.unregisterNode(peer);
    this.topics.unregisterNode(peer);
    this.telemetry.emit("node_draining", {}, { node: peer });
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

  /** A reply or an acknowledgement arrived: it settles its attempt, if that attempt is still waiting for it. */
  private settleAttempt(from: string, attemptId: string, outcome: Outcome, envelope?: Message): void {
    const attempt = this.pending.get(attemptId);
    // Only a cast is settled by an acknowledgement: an `accepted` frame cannot end a call awaiting its reply.
    if (!attempt || attempt.node !== from || (outcome.kind === "accepted" && attempt.op !== "cast")) {
      this.telemetry.emit("late_reply_dropped", {}, { attemptId, from, service: envelope?.serviceName });
      return;
    }
    attempt.settle(outcome);
  }

  private async serveRemote(connection: Connection, frame: RequestFrame): Promise<void> {
    this.inFlight++;
    try {
      await this.answerRemote(connection, frame);
    } finally {
      this.ran();
    }
  }

  private async answerRemote(connection: Connection, frame: RequestFrame): Promise<void> {
    const message = frame.envelope;
    const local = this.registry.localService(message.serviceName);
    let reply: Message | NoReply;
    if (this.draining && frame.op !== "authorize") {
      // Draining: new work goes elsewhere at once (the caller tries its next provider).
      reply = message.return(Response.tryAnotherNode(DRAINING));
    } else if (!local || local.entry.visibility === "private") {
      // Private services are never served to a request that arrived over a transport.
      reply = message.return(Response.serviceUnavailable(message.serviceName));
    } else if (frame.op === "authorize") {
      reply = message.ok(await local.router.authorized(message));
    } else {
      let accepted = false;
      const onAccepted =
        frame.op === "cast"
          ? () => {
              accepted = true;
              this.send(connection, { kind: "accepted", from: this.id, attemptId: frame.attemptId }, frame.from);
            }
          : undefined;
      const served = serve(local, message, this.serveContext, {
        forwarded: frame.forwarded === true,
        remote: true,
        ...(onAccepted ? { onAccepted } : {}),
      });
      if (onAccepted) this.afterCast(served, () => accepted);
      reply = await served;
      // An accepted cast has been answered already (`accepted`); its outcome only goes to telemetry.
      if (accepted) return;
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
    this.send(connection, this.draining ? { kind: "drain", from: this.id } : this.announceFrame(), peer);
  }

  private peerJoined(connection: Connection, peer: string): void {
    if (this.closed || peer === this.id || !isValidName(peer)) return;
    // A known peer reported as joined again lost track of us (it dropped us while we hung): re-introduce.
    if (this.peerConnections.get(peer) === connection) {
      this.send(connection, this.draining ? { kind: "drain", from: this.id } : this.announceFrame(), peer);
      return;
    }
    this.notePeer(connection, peer);
  }

  private peerLeft(connection: Connection, peer: string, reason: string): void {
    if (this.peerConnections.get(peer) !== connection) return;
    this.peerConnections.delete(peer);
    this.drainingPeers.delete(peer);
    this.registry.unregisterNode(peer);
    this.topics.unregisterNode(peer);
    for (const attempt of [...this.pending.values()]) {
      if (attempt.node === peer) attempt.settle({ kind: "failed", reason });
    }
    this.telemetry.emit("node_left", {}, { node: peer });
  }

  /**
   * What this node offers: its public services, and its subscriptions of public services (a private
   * service's name never leaves the node, and no peer may deliver to it anyway).
   */
  private announceFrame(): AnnounceFrame {
    const topics = this.topics
      .localSubscriptions()
      .filter(({ service }) => this.registry.localService(service)?.entry.visibility === "public");
    const services = this.registry.publicServices();
    return { kind: "announce", from: this.id, services, ...(topics.length > 0 ? { topics } : {}) };
  }

  private announce(): void {
    if (this.draining || this.connections.length === 0) return;
    const frame = this.announceFrame();
    for (const connection of this.connections) this.send(connection, frame);
  }

  private scheduleAnnounce(intervalMs: number): void {
    this.cancelAnnounceTimer = this.clock.setTimeout(() => {
      if (this.closed || this.draining) return;
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

/** The message of a further attempt: as sent, in a span of its own. */
function nextAttempt(sent: Message): Message {
  return sent.with({ traceparent: childTraceparent(sent.traceparent as string) });
}
