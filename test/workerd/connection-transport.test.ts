// The connection transport's rule for a client id a socket already holds: the same principal reconnecting
// takes it over, another principal never can. Sockets are real workerd WebSockets (the server ends of
// WebSocketPairs) with attachments, as a connection object's `ctx.getWebSockets()` gives them.
import { describe, expect, it } from "vitest";
import {
  connectionTransport,
  type HibernatableSocket,
  type SocketAttachment,
} from "../../adapters/durable-objects/connection-transport.ts";
import { encodeFrame, type Principal, type TransportLink } from "../../src/index.ts";

/** A server end holding `attachment`; records how the transport closed it. */
function serverSocket(attachment: SocketAttachment) {
  const { 1: serverEnd } = new WebSocketPair();
  serverEnd.accept();
  let stored: unknown = structuredClone(attachment);
  const closed: { code?: number; reason?: string }[] = [];
  const socket: HibernatableSocket = {
    send: (text) => serverEnd.send(text),
    close: (code, reason) => {
      closed.push({ code, reason });
      serverEnd.close(code, reason);
    },
    serializeAttachment: (value) => {
      stored = structuredClone(value);
    },
    deserializeAttachment: () => structuredClone(stored),
  };
  return { socket, closed };
}

/** Socket `holder` speaks as "tab-1"; a new socket as `newcomer` then says hello as "tab-1" too. */
function reconnect(holder: Principal, newcomer: Principal) {
  const old = serverSocket({ principal: holder, key: "old", clientId: "tab-1", announced: true });
  const fresh = serverSocket({ principal: newcomer, key: "new", clientId: null, announced: true });
  const connection = connectionTransport({
    sockets: () => [old.socket, fresh.socket],
    announcement: () => undefined,
    rememberAnnouncement: () => {},
    trustedAssigns: [],
    maxFrameBytes: 65_536,
  });
  const left: string[] = [];
  const link: TransportLink = {
    nodeId: "edge",
    receive: () => {},
    peerJoined: () => {},
    peerLeft: (id) => left.push(id),
  };
  connection.transport.open(link);
  connection.receive(fresh.socket, encodeFrame({ kind: "announce", from: "tab-1", services: [] }));
  return {
    oldClosed: old.closed,
    newClientId: (fresh.socket.deserializeAttachment() as SocketAttachment).clientId,
    left,
  };
}

describe("a client id held by another socket", () => {
  it("the same principal, its keys in another order, takes it over: the old socket is closed as replaced", () => {
    const taken = reconnect(
      { user: "ada", tenant: "t1", roles: ["a", "b"] },
      { roles: ["a", "b"], tenant: "t1", user: "ada" },
    );
    expect(taken.oldClosed).toEqual([{ code: 1000, reason: "replaced by a newer connection" }]);
    expect(taken.left).toEqual(["tab-1"]);
    expect(taken.newClientId).toBe("tab-1");
  });

  it("another principal never can: the old socket stays, the new one gets no id", () => {
    const refused = reconnect({ user: "ada", tenant: "t1" }, { user: "bob", tenant: "t1" });
    expect(refused.oldClosed).toEqual([]);
    expect(refused.left).toEqual([]);
    expect(refused.newClientId).toBeNull();
  });
});
