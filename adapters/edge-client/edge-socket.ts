/** The part of the WebSocket API the client uses; browsers', Node's (22+) and workerd's sockets all fit. */
export interface EdgeSocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Sends one text frame. */
  send(data: string): void;
  /** Closes the socket (browsers accept the codes 1000 and 3000–4999). */
  close(code?: number, reason?: string): void;
  /** Hears the socket open, close or fail. */
  addEventListener(type: "open" | "close" | "error", listener: () => void): void;
  /** Hears each frame; text frames carry a string. */
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void): void;
}

/** A WebSocket class: the global `WebSocket`, or any constructor with the same shape (tests, adapters). */
export type EdgeSocketConstructor = new (url: string) => EdgeSocket;

/** `readyState` of an open socket. @internal */
export const OPEN = 1;
