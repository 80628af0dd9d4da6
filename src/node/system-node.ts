import type { Clock } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { CastResult } from "../mesh/cast.ts";
import type { DrainOptions, NodeState } from "../mesh/drain.ts";
import type { PublishOptions, TopicDelivery, TopicRegistry } from "../mesh/pubsub.ts";
import type { Message } from "../message.ts";
import type { NodeOrder } from "../node-order.ts";
import type { Provider, ServiceRegistry } from "../registry.ts";
import type { AnyRouter } from "../router.ts";
import type { Telemetry } from "../telemetry.ts";
import type { Transport } from "../transport.ts";
import type { DispatchOptions } from "./caller.ts";
import type { AuthorizedAnswer } from "./dispatch.ts";
import type { PeerChange } from "./peer-watch.ts";

/** Options of `createNode`; every one has a default, so `createNode()` alone is a working node. */
export interface NodeOptions {
  /** This node's id, unique among its peers. @default a random id */
  id?: string;
  /** @default systemClock */
  clock?: Clock;
  /** @default a new bus */
  telemetry?: Telemetry;
  /**
   * Where the node's warnings go (service not found, rejected frames, failed handlers, …), each with the
   * log context of the message concerned. @default silentLogger (nothing is logged)
   */
  logger?: Logger;
  /** How often public services are re-announced to every peer (heals missed announcements); 0 turns it off. @default 20_000 */
  announceIntervalMs?: number;
  /**
   * Default per-attempt timeout of `dispatch`, `cast`, `publish` and `authorized`: a number ≥ 0, or
   * `Infinity` for no timeout (any finite value is waited out in full, also above 2^31−1 ms). @default 5_000
   */
  timeoutMs?: number;
  /** Largest frame this node sends or accepts. @default 1_048_576 */
  maxFrameBytes?: number;
  /** Order in which several remote providers are tried. @default randomOrder() */
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
  /** Where the node logs its warnings; pass it on (e.g. to `createAggregateHost`) to log in one place. */
  readonly logger: Logger;
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
  /** Asks the first provider's router whether `message` would be authorized (see `AuthorizedAnswer`). */
  authorized(message: Message, options?: DispatchOptions): Promise<AuthorizedAnswer>;
  /** The providers of `message.serviceName`: the local one alone when there is one, else every remote; `[]` if none. */
  discover(message: Message): Provider[];
  /** Ids of the peers this node knows. */
  peers(): string[];
  /**
   * Tells `listener` of every change among the peers, synchronously, as it happens: one `joined`, then
   * `offered` with its services (again whenever they change, not on every re-announcement), `draining`,
   * `left`. Returns the unsubscribe.
   *
   * @example
   * const stop = node.watchPeers((change) => {
   *   if (change.kind === "offered") render(change.node, change.services.map((s) => s.name));
   *   if (change.kind === "left") forget(change.node);
   * });
   */
  watchPeers(listener: (change: PeerChange) => void): () => void;
  /**
   * Leaves gracefully: tells peers (who stop choosing it at once), answers their new requests with
   * `try_another_node`, finishes the work in flight (at most `timeoutMs`), then leaves like `close()`.
   */
  drain(options?: DrainOptions): Promise<void>;
  /** Leaves at once: tells peers it is leaving, fails requests in flight, closes its transports. */
  close(): Promise<void>;
}
