import { LOCAL, type TopicSubscription } from "../announced.ts";
import { Message } from "../message.ts";

export type { TopicSubscription } from "../announced.ts";

/**
 * What one subscriber made of a published message. `ok: true`: it answered (any answer, also a denial by
 * its router); `ok: false`: it could not be reached or did not answer in time (`reason` says why:
 * `"service_timeout"`, `"node_left"`, `"node_unreachable"`, `"service_gone"`, …).
 *
 * @example
 * const failed = (await node.publish("prices", msg)).filter((delivery) => !delivery.ok);
 */
export type TopicDelivery = { readonly node: string; readonly service: string } & (
  | { readonly ok: true; readonly reply: Message }
  | { readonly ok: false; readonly reason: unknown }
);

/**
 * Options of `node.publish`.
 *
 * @example
 * await node.publish("prices", msg, { timeoutMs: 1_000 });
 */
export interface PublishOptions {
  /** How long each subscriber gets to answer. @default the node's `timeoutMs` (5_000) */
  timeoutMs?: number;
}

/**
 * A node's topic table (Spawn's Pubsub): its own subscriptions and those each peer announced. An
 * announcement replaces the peer's list; a peer that drains or leaves loses all of them.
 *
 * @example
 * node.subscribe("prices", "refresh_prices");
 * node.topics.subscribers("prices"); // [{ node: "local", service: "refresh_prices" }, …]
 */
export class TopicRegistry {
  private readonly local = new Map<string, Set<string>>();
  private readonly remote = new Map<string, readonly TopicSubscription[]>();

  /** Adds a local subscription; returns false when it already existed. */
  subscribe(topic: string, service: string): boolean {
    const services = this.local.get(topic) ?? new Set<string>();
    this.local.set(topic, services);
    if (services.has(service)) return false;
    services.add(service);
    return true;
  }

  /** Removes a local subscription; returns whether there was one. */
  unsubscribe(topic: string, service: string): boolean {
    const services = this.local.get(topic);
    if (!services?.delete(service)) return false;
    if (services.size === 0) this.local.delete(topic);
    return true;
  }

  /** This node's subscriptions, in the order they were made. */
  localSubscriptions(): TopicSubscription[] {
    const subscriptions: TopicSubscription[] = [];
    for (const [topic, services] of this.local) for (const service of services) subscriptions.push({ topic, service });
    return subscriptions;
  }

  /** Records what `node` announced, replacing its previous list. */
  registerRemote(node: string, subscriptions: readonly TopicSubscription[]): void {
    if (subscriptions.length === 0) this.remote.delete(node);
    else this.remote.set(node, subscriptions);
  }

  /** Forgets every subscription of `node`. */
  unregisterNode(node: string): void {
    this.remote.delete(node);
  }

  /** Who receives `topic`: local subscribers first (as `"local"`), then each peer's, by node id. */
  subscribers(topic: string): Array<{ readonly node: string; readonly service: string }> {
    const found = [...(this.local.get(topic) ?? [])].map((service) => ({ node: LOCAL, service }));
    const nodes = [...this.remote.keys()].sort();
    for (const node of nodes) {
      for (const subscription of this.remote.get(node) ?? []) {
        if (subscription.topic === topic) found.push({ node, service: subscription.service });
      }
    }
    return found;
  }

  /** The peers' subscriptions as plain data: node → subscriptions. */
  remoteSubscriptions(): Record<string, readonly TopicSubscription[]> {
    return Object.fromEntries(this.remote);
  }
}

/**
 * @internal The copy a subscriber gets: caused by the published message (new id, same correlation id,
 * causation id = its id), with its request, assigns (the caller, for the subscriber's `authorize`), log
 * context and dry-run mode, addressed to the subscriber's service.
 */
export function topicCopy(published: Message, service: string, traceparent: string): Message {
  return Message.causedBy(service, published, { rawRequest: published.rawRequest }).with({
    logContext: published.logContext,
    dryRun: published.dryRun,
    originNode: published.originNode,
    traceparent,
  });
}
