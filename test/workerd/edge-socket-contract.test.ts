// The transport contract, as it applies to the edge's connection transport: one client and the edge over one
// real workerd WebSocket (a WebSocketPair, its server end with an attachment, as a connection object's
// `ctx.getWebSockets()` gives them), both transports driven through raw links like the core contract does.
// The core's three-peer cases do not apply: each side learns the other's id from its first valid frame,
// which the core contract's endpoints never send. The connection object itself (hibernation, many sockets)
// is tested through the real endpoint in edge-websocket.test.ts.
import { describe, expect, it } from "vitest";
import { connectionTransport, type HibernatableSocket } from "../../adapters/durable-objects/connection-transport.ts";
import { edgeTransport } from "../../adapters/edge-client/index.ts";
import { encodeFrame, type Transport, type TransportLink } from "../../src/index.ts";
import { AdaptedSocket, eventually, quiet } from "./edge-client-socket.ts";

interface Endpoint {
  readonly id: string;
  readonly transport: Transport;
  readonly frames: string[];
  readonly senders: (string | undefined)[];
  readonly joined: string[];
  readonly left: string[];
}

function endpoint(id: string, transport: Transport): Endpoint & { link: TransportLink } {
  const e = {
    id,
    transport,
    frames: [] as string[],
    senders: [] as (string | undefined)[],
    joined: [] as string[],
    left: [] as string[],
  };
  const link: TransportLink = {
    nodeId: id,
    receive: (text, sender) => {
      e.frames.push(text);
      e.senders.push(sender);
    },
    peerJoined: (peer) => e.joined.push(peer),
    peerLeft: (peer) => e.left.push(peer),
  };
  return { ...e, link };
}

const hello = (from: string) => encodeFrame({ kind: "announce", from, services: [] });

/** A client and the edge joined by a WebSocketPair; each has said hello, so each knows the other. */
async function pair() {
  const { 0: clientEnd, 1: serverEnd } = new WebSocketPair();
  serverEnd.accept();
  let connections = 0;
  const clientSockets: AdaptedSocket[] = [];
  const client = endpoint(
    "client",
    edgeTransport({
      url: "wss://pair.test/x3m/ws",
      // The pair connects once: a reconnection finds nothing (and backs off far beyond the test).
      WebSocket: class extends AdaptedSocket {
        constructor() {
          super(Promise.resolve(connections++ === 0 ? clientEnd : null));
          clientSockets.push(this);
        }
      },
      backoff: { initialMs: 60_000 },
    }),
  );
  // The server end as a connection object holds it: with an attachment; gone from the list once closed.
  let attachment: unknown = { principal: { user: "ada" }, key: "socket-1", clientId: null, announced: false };
  const server: HibernatableSocket = {
    send: (text) => serverEnd.send(text),
    close: (code, reason) => serverEnd.close(code, reason),
    serializeAttachment: (value) => {
      attachment = structuredClone(value);
    },
    deserializeAttachment: () => structuredClone(attachment),
  };
  const sockets = [server];
  const announcements = new Map<string, string>();
  const connection = connectionTransport({
    sockets: () => sockets,
    announcement: (id) => announcements.get(id),
    rememberAnnouncement: (id, text) => (text === undefined ? announcements.delete(id) : announcements.set(id, text)),
    trustedAssigns: [],
    maxFrameBytes: 65_536,
  });
  serverEnd.addEventListener("message", (event) => connection.receive(server, event.data as string));
  serverEnd.addEventListener("close", () => {
    sockets.splice(0);
    connection.gone(server);
  });
  const edge = endpoint("edge", connection.transport);
  await edge.transport.open(edge.link);
  await client.transport.open(client.link);
  await eventually("the client socket opened", () => clientSockets[0]?.readyState === 1);
  // The edge speaks first, as the real one does (its hello); the client drops a frame for everyone until
  // it knows the edge, so it answers only once the edge has joined.
  edge.transport.send(hello("edge"));
  await eventually("the client learned the edge", () => client.joined.length > 0);
  client.transport.send(hello("client"));
  await eventually("the edge learned the client", () => edge.joined.length > 0);
  client.frames.length = 0;
  edge.frames.length = 0;
  return { client, edge };
}

describe("transport contract, point to point: edge socket and edge client", () => {
  it("each side reports the other as joined, once, learned from its first valid frame; never itself", async () => {
    const { client, edge } = await pair();
    expect(client.joined).toEqual(["edge"]);
    expect(edge.joined).toEqual(["client"]);
    await client.transport.close();
  });

  it("frames arrive unchanged and in the order sent, both ways, with the peer as sender", async () => {
    const { client, edge } = await pair();
    const sent = Array.from({ length: 50 }, (_, seq) =>
      JSON.stringify({ kind: "probe", body: "ünïcødé ✓ \u2028", seq }),
    );
    for (const text of sent) client.transport.send(text, "edge");
    for (const text of sent) edge.transport.send(text); // no `to`: every peer, i.e. the one client
    await eventually("all frames arrived", () => client.frames.length === 50 && edge.frames.length === 50);
    expect(edge.frames).toEqual(sent);
    expect(client.frames).toEqual(sent);
    expect(new Set([...edge.senders])).toEqual(new Set(["client"]));
    expect(new Set([...client.senders])).toEqual(new Set(["edge"]));
    await client.transport.close();
  });

  it("refuses to send to a node that is not the peer", async () => {
    const { client, edge } = await pair();
    expect(() => client.transport.send("{}", "someone")).toThrow(expect.objectContaining({ code: "NODE_CLOSED" }));
    expect(() => edge.transport.send("{}", "someone")).toThrow(expect.objectContaining({ code: "NODE_CLOSED" }));
    await client.transport.close();
  });

  it("a client that closes is reported as left by the edge, and neither side sends afterwards", async () => {
    const { client, edge } = await pair();
    await client.transport.close();
    await eventually("the edge saw the client leave", () => edge.left.includes("client"));
    expect(() => client.transport.send("{}")).toThrow(expect.objectContaining({ code: "NODE_CLOSED" }));
    expect(() => edge.transport.send("{}", "client")).toThrow(expect.objectContaining({ code: "NODE_CLOSED" }));
    await quiet();
    expect(edge.frames).toEqual([]);
  });

  it("an edge that closes is reported as left by the client, which refuses to send to it until it reconnects", async () => {
    const { client, edge } = await pair();
    await edge.transport.close();
    await eventually("the client saw the edge leave", () => client.left.includes("edge"));
    expect(() => client.transport.send("{}", "edge")).toThrow(expect.objectContaining({ code: "NODE_CLOSED" }));
    // A frame for everyone has nobody to reach: dropped, not thrown (the node announces itself when the edge is back).
    expect(() => client.transport.send("{}")).not.toThrow();
    expect(() => edge.transport.send("{}", "client")).toThrow(expect.objectContaining({ code: "NODE_CLOSED" }));
    await quiet();
    expect(client.frames).toEqual([]);
    await client.transport.close();
  });
});
