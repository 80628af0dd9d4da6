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
