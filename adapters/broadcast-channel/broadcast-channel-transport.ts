import {
  type Clock,
  SdkClientError,
  SdkErrorCode,
  systemClock,
  type Transport,
  type TransportLink,
} from "../../src/index.ts";
import { type Envelope, type EnvelopeKind, readEnvelope } from "./envelope.ts";
import { holdLifeLock, lifeLockName, watchLifeLock } from "./liveness-locks.ts";

/** The part of the `BroadcastChannel` API the transport uses. */
export interface BroadcastChannelLike {
  /** Posts a structured-clonable value to every other holder of the channel name (never to itself). */
  postMessage(message: unknown): void;
  /** Stops listening and posting. */
  close(): void;
  /** Calls `listener` with each value another holder posted, in `event.data`. */
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
}

/** Options of `broadcastChannelTransport`: the channel name, then how peers are watched, each with its default. */
export interface BroadcastChannelTransportOptions {
  /** The channel name: nodes on the same name (same origin) are one cluster. */
  channel: string;
  /** @default globalThis.BroadcastChannel */
  BroadcastChannel?: new (
    name: string,
  ) => BroadcastChannelLike;
  /**
   * Web Locks for exact, timer-free detection of closed and crashed tabs; `null` relies on heartbeats
   * alone. @default globalThis.navigator.locks when present
   */
  locks?: LockManager | null;
  /** How often this node says it is alive. @default 2_000 */
  heartbeatMs?: number;
  /**
   * A peer silent this long is probed; one that does not answer the probe within `heartbeatMs` is
   * dropped (a frozen or hung tab). Probes are answered from the message event, which hidden tabs run
   * at once, so a throttled background tab is not mistaken for a dead one. @default 6_000
   */
  peerTimeoutMs?: number;
  /**
   * Where `pagehide` and `pageshow` are heard: on `pagehide` the node says goodbye and its peers drop
   * it at once; on a `pageshow` from the back/forward cache it says hello again. `null` turns it off.
   * @default globalThis (in a page)
   */
  pageLifecycle?: EventTarget | null;
  /**
   * Runs on `pagehide` before the goodbye, while the channel is still open: pass
   * `() => void node.drain({ timeoutMs: 0 })` so peers hear "draining" first and stop choosing this tab.
   */
  onPagehide?: () => void;
  /** @default systemClock */
  clock?: Clock;
}

interface Peer {
  lastSeen: number;
  probedAt: number | undefined;
  readonly watch: AbortController;
}

/**
 * A transport over a `BroadcastChannel`: every page (or worker) of one origin that opens the same
 * channel is a node of one cluster. Nodes announce themselves, notice peers closing (`pagehide`),
 * crashing (Web Locks) or freezing (heartbeats and probes), and never receive their own frames.
 * Envelopes are validated on arrival; anything else posted on the channel by another page is handed
 * to the node as a frame, which rejects it and reports `frame_rejected`.
 *
 * @example
 * import { createNode } from "x3m-system";
 * import { broadcastChannelTransport } from "x3m-system/broadcast-channel";
 * const node = createNode();
 * node.register(tabRouter);
 * await node.connect(broadcastChannelTransport({ channel: "my-app", onPagehide: () => void node.drain({ timeoutMs: 0 }) }));
 */
export function broadcastChannelTransport(options: BroadcastChannelTransportOptions): Transport {
  const Channel =
    options.BroadcastChannel ??
    (globalThis as { BroadcastChannel?: new (name: string) => BroadcastChannelLike }).BroadcastChannel;
  if (!Channel) throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, "this runtime has no BroadcastChannel");
  const locks =
    options.locks === undefined
      ? (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
      : (options.locks ?? undefined);
  const clock = options.clock ?? systemClock;
  const heartbeatMs = options.heartbeatMs ?? 2_000;
  const peerTimeoutMs = options.peerTimeoutMs ?? 6_000;
  const lifecycle =
    options.pageLifecycle === undefined
      ? typeof (globalThis as { document?: unknown }).document === "object"
        ? (globalThis as unknown as EventTarget)
        : undefined
      : (options.pageLifecycle ?? undefined);

  let link: TransportLink | undefined;
  let channel: BroadcastChannelLike | undefined;
  let lifeLock: { release(): void } | undefined;
  let stopHeartbeat: (() => void) | undefined;
  let hidden = false;
  const peers = new Map<string, Peer>();

  const post = (kind: EnvelopeKind, to?: string, text?: string) => {
    if (!link || !channel || hidden) return false;
    const envelope: Envelope = { x3m: 1, kind, from: link.nodeId, ...(to ? { to } : {}), ...(text ? { text } : {}) };
    channel.postMessage(envelope);
    return true;
  };

  const dropPeer = (id: string) => {
    const peer = peers.get(id);
    if (!peer) return;
    peers.delete(id);
    peer.watch.abort();
    link?.peerLeft(id);
  };

  const dropAllPeers = () => {
    for (const id of [...peers.keys()]) dropPeer(id);
  };

  /** Records a sign of life; `true` when the peer was not known (new, or back after being dropped). */
  const notePeer = (id: string): boolean => {
    const now = clock.now();
    const known = peers.get(id);
    if (known) {
      known.lastSeen = now;
      known.probedAt = undefined;
      return false;
    }
    const peer: Peer = { lastSeen: now, probedAt: undefined, watch: new AbortController() };
    peers.set(id, peer);
    if (locks && link) watchLifeLock(locks, lifeLockName(options.channel, id), peer.watch.signal, () => dropPeer(id));
    link?.peerJoined(id);
    return true;
  };

  /** A peer heard from without a hello may have dropped us meanwhile: say hello so it re-announces. */
  const rejoined = (id: string) => {
    if (notePeer(id)) post("hello", id);
  };

  const onEnvelope = (data: unknown) => {
    if (!link || hidden) return;
    const envelope = readEnvelope(data);
    if (!envelope) {
      // Not ours: let the node reject it visibly (frame_rejected) rather than drop it unseen.
      link.receive(typeof data === "string" ? data : "<non-envelope message on the channel>");
      return;
    }
    const self = link.nodeId;
    if (envelope.from === self || (envelope.to !== undefined && envelope.to !== self)) return;
    switch (envelope.kind) {
      case "bye":
        dropPeer(envelope.from);
        return;
      case "hello":
        // From a peer we already knew: it dropped us (we hung, or it did) and is re-introducing itself.
        if (!notePeer(envelope.from)) link.peerJoined(envelope.from);
        post("here", envelope.from);
        return;
      case "probe":
        rejoined(envelope.from);
        post("beat", envelope.from);
        return;
      case "here":
      case "beat":
        rejoined(envelope.from);
        return;
      case "frame":
        rejoined(envelope.from);
        link.receive(envelope.text as string);
        return;
    }
  };

  const heartbeat = () => {
    post("beat");
    const now = clock.now();
    for (const [id, peer] of peers) {
      if (peer.probedAt !== undefined && now - peer.probedAt >= heartbeatMs) dropPeer(id);
      else if (peer.probedAt === undefined && now - peer.lastSeen >= peerTimeoutMs) {
        peer.probedAt = now;
        post("probe", id);
      }
    }
    stopHeartbeat = clock.setTimeout(heartbeat, heartbeatMs);
  };

  const onPageHide = () => {
    if (!link || hidden) return;
    try {
      options.onPagehide?.();
    } catch {
      // The app's hook must not keep the tab from saying goodbye.
    }
    post("bye");
    hidden = true;
    dropAllPeers();
  };
  const onPageShow = (event: Event) => {
    if (!hidden || !(event as Event & { persisted?: boolean }).persisted) return;
    hidden = false;
    post("hello");
  };

  return {
    name: "broadcast-channel",
    async open(opened) {
      if (link) throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, "this transport is already open");
      link = opened;
      // The life lock is held before anyone hears of this node, so no peer can mistake it for dead.
      if (locks) lifeLock = await holdLifeLock(locks, lifeLockName(options.channel, opened.nodeId));
      channel = new Channel(options.channel);
      channel.addEventListener("message", (event) => onEnvelope(event.data));
      lifecycle?.addEventListener("pagehide", onPageHide);
      lifecycle?.addEventListener("pageshow", onPageShow);
      post("hello");
      stopHeartbeat = clock.setTimeout(heartbeat, heartbeatMs);
    },
    send(text, to) {
      if (!link || !channel || hidden) {
        throw new SdkClientError(SdkErrorCode.NODE_CLOSED, "broadcast-channel transport is not open");
      }
      if (to !== undefined && !peers.has(to)) {
        throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `no peer "${to}" on channel "${options.channel}"`);
      }
      post("frame", to, text);
    },
    close() {
      if (!link) return;
      post("bye");
      stopHeartbeat?.();
      lifecycle?.removeEventListener("pagehide", onPageHide);
      lifecycle?.removeEventListener("pageshow", onPageShow);
      for (const peer of peers.values()) peer.watch.abort();
      peers.clear();
      channel?.close();
      lifeLock?.release();
      channel = undefined;
      link = undefined;
    },
  };
}
