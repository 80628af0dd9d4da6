import {
  admitClientMessage,
  clientAssigns,
  decodeFrame,
  encodeFrame,
  encodeLiveFrame,
  exceedsBytes,
  type Frame,
  LOCAL,
  Message,
  type Principal,
  Response,
  SdkClientError,
  SdkErrorCode,
  type Transport,
  type TransportLink,
} from "../../src/index.ts";
import { stableJson } from "./stable-json.ts";

/** What a connection object keeps with each socket (it survives hibernation; at most 16 KiB). */
export interface SocketAttachment {
  /** Who authenticated the socket: every request the client sends runs as this principal. */
  readonly principal: Principal;
  /** The socket's own key (also its tag): tracks and pokes find it by this. */
  readonly key: string;
  /** The node id the client first spoke as, once it has. */
  readonly clientId: string | null;
  /** Whether the edge has announced its services on this socket. */
  readonly announced: boolean;
}

/** The part of a hibernatable socket the transport uses. */
export interface HibernatableSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  serializeAttachment(value: unknown): void;
  deserializeAttachment(): unknown;
}

export interface ConnectionTransportOptions {
  /** The object's sockets now (`ctx.getWebSockets()`): after a wake, the transport rebuilds its peers from them. */
  sockets(): HibernatableSocket[];
  /** The client's last announcement, kept in the object's storage: restored after a wake. */
  announcement(clientId: string): string | undefined;
  rememberAnnouncement(clientId: string, text: string | undefined): void;
  readonly trustedAssigns: readonly string[];
  readonly maxFrameBytes: number;
}

const attachmentOf = (socket: HibernatableSocket) => socket.deserializeAttachment() as SocketAttachment;
/** One principal, whatever order its keys came in (two sign-ins may build it differently). */
const samePrincipal = (a: Principal, b: Principal) => stableJson(a) === stableJson(b);

/** Reads a field of a frame too large to parse, from its first kilobytes (bounded, never throws). */
function peek(text: string, field: string): string | undefined {
  const match = new RegExp(`"${field}":"([^"\\\\]{1,200})"`).exec(text.slice(0, 4_096));
  return match?.[1];
}

/**
 * The edge's side of every client socket of a connection object, as one core `Transport`: each socket is
 * one peer, named by the node id it first speaks as. What a client sends is admitted, not trusted: frames
 * are size-checked before they are read, validated, bound to the socket's node id (the node's spoof check
 * applies), and the envelopes of its requests get the socket's principal instead of the assigns the client
 * wrote, lose their events and cannot skip the edge's `chooseNode`; a request that is already an answer
 * (a preset `response`) is refused with an error reply, through the same check as every other door.
 */
export function connectionTransport(options: ConnectionTransportOptions) {
  let link: TransportLink | undefined;

  const socketOf = (clientId: string) => options.sockets().find((socket) => attachmentOf(socket).clientId === clientId);

  const refuse = (socket: HibernatableSocket, code: string, message: string, attemptId?: string) => {
    try {
      socket.send(
        encodeLiveFrame({
          live: "refused",
          code,
          message,
          ...(attemptId ? { attemptId } : {}),
          ...(code === "FRAME_TOO_LARGE" ? { limitBytes: options.maxFrameBytes } : {}),
        }),
      );
    } catch {
      // the socket is gone
    }
  };

  /**
   * Answers a request attempt with an error reply, so the caller fails at once instead of timing out. A
   * request near the limit does not fit in its own answer: that one goes without what the request carried
   * (its ids, service and trace context stay).
   */
  const replyError = (socket: HibernatableSocket, attemptId: string, message: Message, reason: unknown) => {
    if (!link) return;
    const from = link.nodeId;
    const answer = (envelope: Message) =>
      encodeFrame(
        { kind: "reply", from, attemptId, envelope: envelope.return(Response.error(reason)) },
        options.maxFrameBytes,
      );
    try {
      let text: string;
      try {
        text = answer(message);
      } catch {
        text = answer(message.with({ rawRequest: {}, request: undefined, assigns: {}, logContext: {}, events: [] }));
      }
      socket.send(text);
    } catch {
      // the socket is gone (or a limit too small for any answer: the client times out)
    }
  };

  /** The text the node gets for a valid frame of the client; `undefined` drops it (answered already). */
  const admit = (socket: HibernatableSocket, frame: Frame, text: string): string | undefined => {
    const { principal } = attachmentOf(socket);
    if (frame.kind === "announce") {
      options.rememberAnnouncement(frame.from, text);
      return text;
    }
    if (frame.kind === "reply") {
      // An answer to the edge's own call: it is a response by nature; only its assigns are not the client's to set.
      const assigns = clientAssigns(frame.envelope.assigns, principal, options.trustedAssigns);
      return encodeOrRefuse(socket, frame, { ...frame, envelope: frame.envelope.with({ assigns }) });
    }
    if (frame.kind !== "request") return text;
    const admitted = admitClientMessage(frame.envelope, { principal, trustedAssigns: options.trustedAssigns });
    if (!admitted.ok) {
      replyError(socket, frame.attemptId, frame.envelope, {
        code: admitted.error.code,
        message: admitted.error.message,
      });
      return undefined;
    }
    // `forwarded` would let the client skip the edge router's `chooseNode`: only cluster nodes forward.
    const { forwarded: _ignored, ...request } = frame;
    return encodeOrRefuse(socket, frame, { ...request, envelope: admitted.value });
  };

  /** The rewritten frame's text; too large once rewritten (a principal near the limit): refused, never passed on unrewritten. */
  const encodeOrRefuse = (socket: HibernatableSocket, original: Frame, rewritten: Frame): string | undefined => {
    try {
      return encodeFrame(rewritten, options.maxFrameBytes);
    } catch {
      if (original.kind === "request") {
        replyError(socket, original.attemptId, original.envelope, {
          code: "FRAME_TOO_LARGE",
          limitBytes: options.maxFrameBytes,
        });
      }
      return undefined;
    }
  };

  /** Closes a socket whose client id a newer socket takes: its client is gone for the node. */
  const release = (socket: HibernatableSocket) => {
    const attachment = attachmentOf(socket);
    socket.serializeAttachment({ ...attachment, clientId: null } satisfies SocketAttachment);
    if (attachment.clientId !== null) link?.peerLeft(attachment.clientId);
    try {
      socket.close(1000, "replaced by a newer connection");
    } catch {
      // already closing
    }
  };

  const transport: Transport = {
    name: "edge-connection",
    open(next) {
      link = next;
      // After a wake: every socket whose client has spoken is a peer again, with the services it announced.
      for (const socket of options.sockets()) {
        const { clientId } = attachmentOf(socket);
        if (clientId === null) continue;
        next.peerJoined(clientId);
        const announcement = options.announcement(clientId);
        if (announcement) next.receive(announcement, clientId);
      }
    },
    send(text, to) {
      const targets = to === undefined ? options.sockets() : [socketOf(to)];
      if (to !== undefined && !targets[0]) {
        throw new SdkClientError(SdkErrorCode.NODE_CLOSED, `no node "${to}" on this edge's sockets`);
      }
      const announcing = text.startsWith('{"v":1,"kind":"announce"');
      for (const socket of targets) {
        if (!socket) continue;
        const attachment = attachmentOf(socket);
        // The edge announces once per socket: a wake (which rebuilds the node) does not repeat it.
        if (announcing) {
          if (attachment.announced) continue;
          socket.serializeAttachment({ ...attachment, announced: true } satisfies SocketAttachment);
        }
        if (to === undefined && attachment.clientId === null && !announcing) continue;
        socket.send(text);
      }
    },
    close() {
      // The edge node is closing: its clients are told by their sockets closing (it failed its own attempts).
      link = undefined;
      for (const socket of options.sockets()) {
        try {
          socket.close(1001, "edge node closed");
        } catch {
          // already closed
        }
      }
    },
  };

  return {
    transport,
    /** A transport frame from `socket` (live frames are the object's). */
    receive(socket: HibernatableSocket, text: string): void {
      if (!link) return;
      if (exceedsBytes(text, options.maxFrameBytes)) {
        const attemptId = peek(text, "attemptId");
        refuse(socket, "FRAME_TOO_LARGE", `frame is larger than ${options.maxFrameBytes} bytes`, attemptId);
        const id = peek(text, "id");
        const serviceName = peek(text, "serviceName");
        if (attemptId && id && serviceName) {
          try {
            replyError(socket, attemptId, Message.new(serviceName, { id }), {
              code: "FRAME_TOO_LARGE",
              limitBytes: options.maxFrameBytes,
            });
          } catch {
            // an id or name that is not valid: the refusal above is all the client gets
          }
        }
        return;
      }
      const attachment = attachmentOf(socket);
      const decoded = decodeFrame(text, options.maxFrameBytes);
      let sender = attachment.clientId ?? undefined;
      if (decoded.ok && attachment.clientId === null) {
        const { from } = decoded.value;
        // At most one socket holds a client id (it is bound only when none does).
        const holder = socketOf(from);
        // The same principal reconnecting (its old socket not closed yet, or half open) takes its id over;
        // another principal never can.
        const released = holder !== undefined && samePrincipal(attachmentOf(holder).principal, attachment.principal);
        if (released) release(holder);
        const taken = from === link.nodeId || from === LOCAL || (holder !== undefined && !released);
        if (!taken) {
          socket.serializeAttachment({ ...attachment, clientId: from } satisfies SocketAttachment);
          sender = from;
          link.peerJoined(from);
        }
      }
      // Malformed text, and a frame claiming another `from`, go to the node with the socket's real sender
      // (or one no frame can claim): the node rejects them and reports `frame_rejected`.
      const delivered =
        decoded.ok && sender !== undefined && decoded.value.from === sender ? admit(socket, decoded.value, text) : text;
      if (delivered !== undefined) link.receive(delivered, sender ?? `socket:${attachment.key}`);
    },
    /** `socket` closed: its client is gone (requests in flight to it fail at once). */
    gone(socket: HibernatableSocket): void {
      const { clientId } = attachmentOf(socket);
      if (clientId === null) return;
      options.rememberAnnouncement(clientId, undefined);
      link?.peerLeft(clientId);
    },
  };
}
