/**
 * A node's life: `running` serves and dispatches; `draining` (after `drain()`) answers peers' new
 * requests with `try_another_node` while it finishes the ones in flight; `stopped` after it left.
 *
 * @example
 * if (node.state === "running") await node.drain();
 */
export type NodeState = "running" | "draining" | "stopped";

/**
 * Options of `node.drain`.
 *
 * @example
 * addEventListener("pagehide", () => void node.drain({ timeoutMs: 2_000 }));
 */
export interface DrainOptions {
  /** Longest wait for the work in flight; then the node leaves anyway, like `close()`. @default 30_000 */
  timeoutMs?: number;
}

/** @internal The `try_another_node` reason a draining node gives peers' new requests: the caller tries another node at once. */
export const DRAINING = "draining";
