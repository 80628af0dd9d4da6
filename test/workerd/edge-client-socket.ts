// The edge client's socket, made from workerd WebSockets: an upgrade through the suite's Worker (the real
// endpoint) or the client end of a `WebSocketPair` (the transports alone). The client runs unchanged on both.
import { exports } from "cloudflare:workers";
import type { EdgeSocket, EdgeSocketConstructor } from "../../adapters/edge-client/index.ts";

type Listener = (event: { readonly data: unknown }) => void;

/** A workerd WebSocket that becomes available later (after an upgrade), behind the browser API's shape. */
export class AdaptedSocket implements EdgeSocket {
  readyState = 0;
  private socket: WebSocket | undefined;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(source: Promise<WebSocket | null>) {
    source.then(
      (socket) => (socket ? this.attach(socket) : this.gone(true)),
      () => this.gone(true),
    );
  }

  addEventListener(type: "open" | "close" | "error", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(data: string): void {
    if (this.readyState !== 1 || !this.socket) throw new Error("InvalidStateError: socket is not open");
    this.socket.send(data);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    try {
      this.socket?.close(code, reason);
    } finally {
      this.gone(false);
    }
  }

  /** The network went away: the socket closes without the client asking. */
  drop(): void {
    this.close(1001, "network lost");
  }

  private attach(socket: WebSocket): void {
    socket.accept();
    if (this.readyState !== 0) {
      socket.close(1000, "closed before it opened");
      return;
    }
    this.socket = socket;
    this.readyState = 1;
    socket.addEventListener("message", (event) => this.emit("message", event.data));
    socket.addEventListener("close", () => this.gone(false));
    socket.addEventListener("error", () => this.gone(true));
    this.emit("open");
  }

  private gone(failed: boolean): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    if (failed) this.emit("error");
    this.emit("close");
  }

  private emit(type: string, data?: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener({ data });
  }
}

/** A WebSocket class whose connections are upgrades through the suite's Worker (`exports.default`). */
export function selfWebSocket(): { readonly sockets: AdaptedSocket[]; readonly WebSocket: EdgeSocketConstructor } {
  const sockets: AdaptedSocket[] = [];
  return {
    sockets,
    WebSocket: class extends AdaptedSocket {
      constructor(url: string) {
        super(exports.default.fetch(url, { headers: { Upgrade: "websocket" } }).then((response) => response.webSocket));
        sockets.push(this);
      }
    },
  };
}

/** Polls `check` until it holds; real time, since sockets are real I/O. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 3_000): Promise<void> {
  for (let waited = 0; !check(); waited += 5) {
    if (waited >= timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Lets frames in flight arrive (and proves that nothing else does). */
export const quiet = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));
