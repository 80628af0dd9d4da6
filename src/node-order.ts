import type { Message } from "./message.ts";
import type { Provider } from "./registry.ts";

/**
 * Orders the providers of a service; the dispatcher tries them in that order (the first that answers
 * with anything but `try_another_node` wins).
 */
export type NodeOrder = (providers: readonly Provider[], message: Message) => readonly Provider[];

/** Uniform random order (Fisher-Yates), the original's behaviour. `random` is injectable for tests. */
export function randomOrder(random: () => number = Math.random): NodeOrder {
  return (providers) => {
    const shuffled = [...providers];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j] as Provider, shuffled[i] as Provider];
    }
    return shuffled;
  };
}

/**
 * Takes turns (Spawn's RoundRobin): each dispatch of a service starts with the next provider, in node-id
 * order, and tries the others after it.
 *
 * @example
 * const node = createNode({ nodeOrder: roundRobinOrder() });
 */
export function roundRobinOrder(): NodeOrder {
  const turns = new Map<string, number>();
  return (providers, message) => {
    const sorted = [...providers].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    const turn = turns.get(message.serviceName) ?? 0;
    turns.set(message.serviceName, turn + 1);
    const start = turn % sorted.length;
    return [...sorted.slice(start), ...sorted.slice(0, start)];
  };
}
