// The edge client against a fake WebSocket and a fake edge node, on a virtual clock: the edge appears as a
// node with its services, a drop fails requests in flight at once, reconnection backs off and re-announces.
import { describe, expect, it } from "vitest";
import { type EdgeTransportOptions, edgeTransport } from "../../adapters/edge-client/index.ts";
import {
  createInProcessHub,
  createNode,
  defineRouter,
  isSdkClientError,
  Message,
  type Provider,
  type SystemNode,
  type TelemetryEvent,
} from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";
import { type FakeSocket, fakeSockets, serveEdge } from "./fake-edge.ts";
import { settle } from "./fixtures.ts";

/** The fake edge's services: `slow` answers only when the test says so. */
function edgeNode(clock: VirtualClock, hold: { release?: () => void; started: number } = { started: 0 }) {
  const node = createNode({ id: "edge", clock, announceIntervalMs: 0 });
  node.register(
    defineRouter({
      name: "edge_services",
      services: {
        hello: (msg) => msg.ok(`hello ${String(msg.rawRequest.name)}`),
        slow: (msg) =>
          new Promise<Message>((resolve) => {
            hold.started++;
            hold.release = () => resolve(msg.ok("slow done"));
          }),
      },
      privateServices: { internal: (msg) => msg.ok("never announced") },
      authorize: () => true,
    }),
  );
  return node;
}

const clientRouter = defineRouter({
  name: "client_services",
  services: { client_time: (msg) => msg.ok({ on: "client" }) },
  authorize: () => true,
});

async function setup(options: Partial<EdgeTransportOptions> = {}) {
  const clock = new VirtualClock();
  const net = fakeSockets();
  let tokens = 0;
  const client = createNode({ id: "browser-1", clock, announceIntervalMs: 0 });
  client.register(clientRouter);
  const transport = edgeTransport({
    url: "wss://edge.test/x3m/ws",
    getToken: () => `t${++tokens}`,
    WebSocket: net.WebSocket,
    clock,
    backoff: { initialMs: 100, maxMs: 1_000, random: () => 0 },
    ...options,
  });
  await client.connect(transport);
  const socket = (i: number): FakeSocket => {
    const found = net.sockets[i];
    if (!found) throw new Error(`no socket ${i} (have ${net.sockets.length})`);
    return found;
  };
  /** Accepts socket `i` with a fresh edge node, as the real endpoint does per connection. */
  const accept = async (i: number, edge: SystemNode = edgeNode(clock)) => {
    await settle();
    await serveEdge(socket(i), edge);
    await settle();
    return edge;
  };
  return { clock, net, client, transport, socket, accept };
}

const hello = () => Message.new("hello", { rawRequest: { name: "Ada" } });

describe("edgeTransport", () => {
  it("connects with the token as a query parameter and sees the edge as a node with its public services", async () => {
    const { client, net, accept } = await setup();
    await settle();
    expect(net.sockets.map((s) => s.url)).toEqual(["wss://edge.test/x3m/ws?token=t1"]);
    const edge = await accept(0);
    expect(client.peers()).toEqual(["edge"]);
    expect(client.discover(hello())).toEqual([{ node: "edge", router: "edge_services" }]);
    expect(client.discover(Message.new("internal"))).toEqual([]);
    expect((await client.dispatch(hello())).response).toEqual({ status: "ok", payload: "hello Ada" });
    // and the edge learned the client's services: calls go both ways
    expect(edge.discover(Message.new("client_time"))).toEqual([{ node: "browser-1", router: "client_services" }]);
    expect((await edge.dispatch(Message.new("client_time"))).response).toEqual({
      status: "ok",
      payload: { on: "client" },
    });
    await client.close();
  });

  it("fails a request in flight at once when the socket drops, and the dispatcher tries another provider", async () => {
    const clock = new VirtualClock();
    const hub = createInProcessHub();
    const net = fakeSockets();
    const edgeFirst = (providers: readonly Provider[]) =>
      [...providers].sort((a, b) => Number(b.node === "edge") - Number(a.node === "edge"));
    const client = createNode({ id: "browser-1", clock, announceIntervalMs: 0, nodeOrder: edgeFirst });
    const backup = createNode({ id: "backup", clock, announceIntervalMs: 0 });
    backup.register(
      defineRouter({ name: "backup", services: { slow: (msg) => msg.ok("from backup") }, authorize: () => true }),
    );
    await client.connect(hub.transport());
    await backup.connect(hub.transport());
    const options = { url: "wss://edge.test/x3m/ws", WebSocket: net.WebSocket, clock };
    await client.connect(edgeTransport({ ...options, backoff: { random: () => 0 } }));
    await settle();
    const hold = { started: 0 } as { release?: () => void; started: number };
    await serveEdge(net.sockets[0] as FakeSocket, edgeNode(clock, hold));
    await settle();
    expect(client.discover(Message.new("slow")).map((p) => p.node)).toEqual(["backup", "edge"]);

    const pending = client.dispatch(Message.new("slow"), { timeoutMs: 60_000 });
    await settle();
    expect(hold.started).toBe(1); // the edge is working on it
    net.sockets[0]?.drop();
    const reply = await pending; // no clock advance: not a timeout
    expect(reply.response).toEqual({ status: "ok", payload: "from backup" });
    expect(client.discover(Message.new("slow")).map((p) => p.node)).toEqual(["backup"]);
    await Promise.all([client.close(), backup.close()]);
  });

  it("answers no_nodes_available naming the edge when it was the only provider", async () => {
    const { client, socket, accept } = await setup();
    const hold = { started: 0 } as { release?: () => void; started: number };
    await accept(0, edgeNode(new VirtualClock(), hold));
    const pending = client.dispatch(Message.new("slow"), { timeoutMs: 60_000 });
    await settle();
    socket(0).drop();
    expect((await pending).response).toEqual({
      status: "no_nodes_available",
      tried: [{ node: "edge", reason: "node_left" }],
    });
    hold.release?.(); // a reply after the drop has nowhere to go
    await client.close();
  });

  it("reconnects with exponential backoff through the clock, capped at maxMs", async () => {
    const { clock, net, socket, client } = await setup();
    await settle();
    // 100, 200, 400, 800, then 1000 (the cap) twice: nothing a millisecond early, a new socket on time
    for (const [i, delay] of [100, 200, 400, 800, 1_000, 1_000].entries()) {
      socket(i).refuse();
      await clock.advance(delay - 1);
      expect(net.sockets).toHaveLength(i + 1);
      await clock.advance(1);
      expect(net.sockets).toHaveLength(i + 2);
    }
    await client.close();
  });

  it("shortens each delay by up to half at random (jitter)", async () => {
    const { clock, net, socket, client } = await setup({ backoff: { initialMs: 1_000, random: () => 0.5 } });
    await settle();
    socket(0).refuse();
    await clock.advance(749);
    expect(net.sockets).toHaveLength(1);
    await clock.advance(1);
    expect(net.sockets).toHaveLength(2);
    await client.close();
  });

  it("re-announces after reconnecting: both sides learn each other's services again, with a fresh token", async () => {
    const { clock, net, client, socket, accept } = await setup();
    await accept(0);
    socket(0).drop();
    expect(client.peers()).toEqual([]);
    expect(client.discover(hello())).toEqual([]);
    await clock.advance(100);
    expect(net.sockets.map((s) => s.url)).toEqual([
      "wss://edge.test/x3m/ws?token=t1",
      "wss://edge.test/x3m/ws?token=t2",
    ]);
    const edge = await accept(1);
    expect(client.peers()).toEqual(["edge"]);
    expect(edge.discover(Message.new("client_time"))).toEqual([{ node: "browser-1", router: "client_services" }]);
    expect((await client.dispatch(hello())).response).toEqual({ status: "ok", payload: "hello Ada" });
    await client.close();
  });

  it("starts the backoff over once the edge has spoken again", async () => {
    const { clock, net, socket, accept, client } = await setup();
    socket(0).refuse();
    await clock.advance(100);
    socket(1).refuse();
    await clock.advance(200); // the delay has grown to 200
    await accept(2);
    socket(2).drop();
    await clock.advance(100); // back to the initial delay
    expect(net.sockets).toHaveLength(4);
    await client.close();
  });

  it("throws SdkClientError NODE_CLOSED when sending while disconnected; the node then sees no edge", async () => {
    const { client, transport, socket, accept } = await setup();
    await settle();
    const sendNow = () => transport.send('{"kind":"probe"}');
    expect(sendNow).toThrow(expect.objectContaining({ name: "SdkClientError", code: "NODE_CLOSED" }));
    await accept(0);
    expect(sendNow).not.toThrow();
    expect(() => transport.send('{"kind":"probe"}', "someone-else")).toThrow(
      expect.objectContaining({ code: "NODE_CLOSED" }),
    );
    socket(0).drop();
    try {
      sendNow();
      expect.unreachable();
    } catch (error) {
      expect(isSdkClientError(error) && error.code).toBe("NODE_CLOSED");
    }
    expect((await client.dispatch(hello())).response).toEqual({ status: "service_unavailable", service: "hello" });
    await client.close();
  });

  it("keeps retrying when getToken fails", async () => {
    let calls = 0;
    const { clock, net, client } = await setup({
      getToken: () => {
        calls++;
        if (calls < 3) throw new Error("token service down");
        return "late";
      },
    });
    await settle();
    expect(net.sockets).toHaveLength(0);
    await clock.advance(100 + 200);
    expect(net.sockets.map((s) => s.url)).toEqual(["wss://edge.test/x3m/ws?token=late"]);
    await client.close();
  });

  it("drops frames that claim to come from another node once the edge is known", async () => {
    const { client, socket, accept } = await setup();
    await accept(0);
    const rejected: TelemetryEvent[] = [];
    client.telemetry.on("frame_rejected", (event) => rejected.push(event));
    socket(0).deliver(JSON.stringify({ v: 1, kind: "announce", from: "mallory", services: [] }));
    await settle();
    expect(rejected).toHaveLength(1);
    expect(client.peers()).toEqual(["edge"]);
    await client.close();
  });

  it("close() stops reconnecting and closes the socket", async () => {
    const { clock, net, client, socket, accept } = await setup();
    await accept(0);
    await client.close();
    expect(socket(0).closedWith?.code).toBe(1000);
    await clock.advance(60_000);
    expect(net.sockets).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it("close() during a pending reconnection cancels it", async () => {
    const { clock, net, client, socket } = await setup();
    socket(0).refuse();
    await client.close();
    await clock.advance(60_000);
    expect(net.sockets).toHaveLength(1);
  });

  it("serves one node: a second open is refused, and so is an open after close", async () => {
    const { client, transport } = await setup();
    const link = { nodeId: "other", receive() {}, peerJoined() {}, peerLeft() {} };
    expect(() => transport.open(link)).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS" }));
    await client.close();
    expect(() => transport.open(link)).toThrow(expect.objectContaining({ code: "NODE_CLOSED" }));
  });

  it("rejects unusable options at once", () => {
    const net = fakeSockets();
    expect(() => edgeTransport({ url: "/x3m/ws", WebSocket: net.WebSocket })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    const saved = globalThis.WebSocket;
    try {
      Reflect.deleteProperty(globalThis, "WebSocket");
      expect(() => edgeTransport({ url: "wss://edge.test/x3m/ws" })).toThrow(
        expect.objectContaining({ code: "INVALID_OPTIONS" }),
      );
    } finally {
      globalThis.WebSocket = saved;
    }
  });

  it("uses the global WebSocket by default (Node 22+ and browsers have one)", () => {
    expect(typeof globalThis.WebSocket).toBe("function");
    expect(() => edgeTransport({ url: "wss://edge.test/x3m/ws" })).not.toThrow();
  });
});
