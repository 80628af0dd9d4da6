import type { AnnouncedService } from "../announced.ts";

/**
 * A change among a node's peers, as `node.watchPeers` reports it:
 * - `joined`: a peer became reachable (its services follow in an `offered`);
 * - `offered`: what a peer offers changed (the whole list, replacing the last; a re-announcement of the same
 *   list is not a change);
 * - `draining`: a peer is leaving gracefully: it is chosen no more, its answers still count;
 * - `left`: a peer is gone (`reason`: `node_left` for a goodbye or a transport that lost it).
 */
export type PeerChange =
  | { readonly kind: "joined"; readonly node: string }
  | { readonly kind: "offered"; readonly node: string; readonly services: readonly AnnouncedService[] }
  | { readonly kind: "draining"; readonly node: string }
  | { readonly kind: "left"; readonly node: string; readonly reason: string };

/** The node's watchers of peer changes: told synchronously, each isolated from the others' failures. */
export class PeerWatch {
  private readonly listeners = new Set<(change: PeerChange) => void>();

  watch(listener: (change: PeerChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(change: PeerChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // A watcher's failure is its own: the node and the other watchers carry on.
      }
    }
  }
}
