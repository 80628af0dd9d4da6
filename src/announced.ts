/**
 * What nodes tell each other they offer (services and topic subscriptions) and the name a local provider
 * goes by: the vocabulary shared by the frames, the service registry and the topic registry, kept below
 * all three so none of them imports another for it.
 */

/** The node name a local provider is reported under (the original's `:local`). */
export const LOCAL = "local";

/** A service a node offers, as announced to peers. */
export interface AnnouncedService {
  readonly name: string;
  readonly router: string;
}

/**
 * A subscription as a node announces it: its service `service` receives what is published on `topic`.
 *
 * @example
 * const subscription: TopicSubscription = { topic: "prices", service: "refresh_prices" };
 */
export interface TopicSubscription {
  readonly topic: string;
  readonly service: string;
}
