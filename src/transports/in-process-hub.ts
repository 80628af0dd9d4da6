import type { Clock } from "../clock.ts";
import { SdkClientError, SdkErrorCode } from "../errors.ts";
import type { Transport, TransportLink } from "../transport.ts";

/** A frame on its way through the hub, as an interceptor sees it. */
export interface HubFrame {
  readonly from: string;
  readonly to: string;
  readonly text: string;
}

/** Fault injection: return the frame's text (possibly changed), several texts to duplicate it, or `null` to drop it. */
export type HubInterceptor = (frame: HubFrame) => string | readonly string[] | null;

/** Options of `createInProcessHub`: how long frames take to arrive. */
export interface InProcessHubOptions {
  /** Delivery delay; 0 delivers on the next microtask. @default 0 */
  latencyMs?: number;
  /** Needed only when `latencyMs` > 0. */
  clock?: Clock;
}

/** Connects any number of nodes in one process; the reference transport the core tests use. */
export interface InProcessHub {
  /** A new transport endpoint; give each node its own (`node.connect(hub.transport())`). */
  transport(): Transport;
  /** Ids of the nodes connected now. */
  nodes(): string[];
  /** Cuts a node off without a word (a crash): its peers see it leave, no `leave` frame is sent. */
  disconnect(nodeId: string): void;
  /** Delivers raw text to a node as an unidentified sender would (hostile frames in tests). */
  inject(to: string, text: string): void;
  /** Installs (or, with `undefined`, removes) a fault-injecting interceptor. */
  intercept(interceptor: HubInterceptor | undefined): void;
}

/**
 * Creates an in-process hub. Frames travel as JSON text, asynchronously, exactly as on a real wire.
 *
 * @example
 * import { createInProcessHub, createNode } from "x3m-system";
 * const hub = createInProcessHub();
 * const a = createNode({ id: "a" }), b = createNode({ id: "b" });
 * await a.connect(hub.transport()); await b.connect(hub.transport());
 */
export function createInProcessHub(options: InProcessHubOptions = {}): InProcessHub {
  const members = new Map<string, TransportLink>();
  let interceptor: HubInterceptor | undefined;
  const latencyMs = options.latencyMs ?? 0;

  const later = (fn: () => void) => {
    if (latencyMs > 0 && options.clock) options.clock.setTimeout(fn, latencyMs);
    else queueMicrotask(fn);
  };

  const deliver = (from: string, to: string, text: string) => {
    const result = interceptor ? interceptor({ from, to, text }) : text;
    if (result === null) return;
    for (const delivered of typeof result === "string" ? [result] : result) {
      later(() => members.get(to)?.receive(delivered, from));
    }
  };

  const leave = (nodeId: string) => {
    if (!members.delete(nodeId)) return;
    for (const peer of members.values()) later(() => peer.peerLeft(nodeId));
  };

  return {
    transport(): Transport {
      let self: TransportLink | undefined;
      return {
        name: "in-process-hub",
        open(link) {
          if (members.has(link.nodeId)) {
            throw new SdkClientError(SdkErrorCode.INVALID_NODE_ID, `node "${link.nodeId}" is already on this hub`);
          }
          for (const peer of members.values()) {
            later(() => peer.peerJoined(link.nodeId));
            later(() => link.peerJoined(peer.nodeId));
          }
          members.set(link.nodeId, link);
          self = link;
        },
        send(text, to) {
          if (!self || members.get(self.nodeId) !== self) {
            throw new SdkClientError(SdkErrorCode.NODE_CLOSED, "transport is not connected");
          }
          const from = self.nodeId;
          if (to !== undefined) {
            if (!members.has(to)) throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `no node "${to}" on this hub`);
            deliver(from, to, text);
            return;
          }
          for (const peer of members.keys()) if (peer !== from) deliver(from, peer, text);
        },
        close() {
          if (self && members.get(self.nodeId) === self) leave(self.nodeId);
          self = undefined;
        },
      };
    },
    nodes: () => [...members.keys()],
    disconnect: (nodeId) => leave(nodeId),
    inject: (to, text) => later(() => members.get(to)?.receive(text)),
    intercept(next) {
      interceptor = next;
    },
  };
}
