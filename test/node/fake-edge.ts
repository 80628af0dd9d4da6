// A fake WebSocket and a fake edge behind it, so the edge client can be tested in Node on a VirtualClock:
// the test decides when a socket opens, is refused or drops; frames travel as text, asynchronously.
import type { EdgeSocket, EdgeSocketConstructor } from "../../adapters/edge-client/index.ts";
import {
  encodeLiveFrame,
  isLiveFrameText,
  SdkClientError,
  SdkErrorCode,
  type SystemNode,
  type TransportLink,
} from "../../src/index.ts";

type Listener = (event: { readonly data: unknown }) => void;

/** A client socket whose server side is driven by the test. */
export class FakeSocket implements EdgeSocket {
  readyState = 0;
  /** Frames the client sent, in order. */
  readonly sent: string[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  /** The fake server's receiving end, once `serve` accepted the socket. */
  onClientFrame: ((text: string) => void) | undefined;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {}

  addEventListener(type: "open" | "close" | "error", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("InvalidStateError: socket is not open");
    this.sent.push(data);
    const deliver = this.onClientFrame;
    if (deliver) queueMicrotask(() => deliver(data));
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.closedWith = { code, reason };
    this.readyState = 3;
    queueMicrotask(() => this.emit("close"));
  }

  /** Server side: the upgrade succeeded. */
  open(): void {
    this.readyState = 1;
    this.emit("open");
  }

  /** Server side: the connection failed (refused, 401 before the upgrade, network down). */
  refuse(): void {
    this.readyState = 3;
    this.emit("error");
    this.emit("close");
  }

  /** Server side: the connection broke without a close handshake. */
  drop(): void {
    this.refuse();
  }

  /** Server side: a frame for the client. */
  deliver(text: string): void {
    if (this.readyState === 1) queueMicrotask(() => this.emit("message", text));
  }

  private emit(type: string, data?: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener({ data });
  }
}

/** Every socket the client created, in order; `WebSocket` is the class to inject. */
export function fakeSockets(): { readonly sockets: FakeSocket[]; readonly WebSocket: EdgeSocketConstructor } {
  const sockets: FakeSocket[] = [];
  return {
    sockets,
    WebSocket: class extends FakeSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    },
  };
}

/**
 * Accepts `socket` and connects `node` (the fake edge) to it, as the real endpoint does: the edge speaks
 * first (with `hello`, its limits, then its announcement), the client's id is the `from` of its first
 * transport frame (its control frames are only recorded in `socket.sent`), and the client is reported gone
 * when the socket goes.
 */
export async function serveEdge(
  socket: FakeSocket,
  node: SystemNode,
  options: { hello?: { maxFrameBytes: number } } = {},
): Promise<void> {
  let link: TransportLink | undefined;
  let client: string | undefined;
  socket.onClientFrame = (text) => {
    if (!link || isLiveFrameText(text)) return;
    if (client === undefined) {
      client = (JSON.parse(text) as { from: string }).from;
      link.peerJoined(client);
    }
    link.receive(text, client);
  };
  socket.addEventListener("close", () => {
    if (client !== undefined) link?.peerLeft(client);
    void node.close();
  });
  socket.open();
  if (options.hello) socket.deliver(encodeLiveFrame({ live: "hello", ...options.hello }));
  await node.connect({
    name: "fake-edge",
    open(next) {
      link = next;
    },
    send(text) {
      if (socket.readyState !== 1) throw new SdkClientError(SdkErrorCode.NODE_CLOSED, "socket closed");
      socket.deliver(text);
    },
    close() {
      link = undefined;
    },
  });
}
