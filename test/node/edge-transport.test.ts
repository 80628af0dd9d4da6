// The edge client against a fake WebSocket and a fake edge node, on a virtual clock: the edge appears as a
// node with its services, a drop fails requests in flight at once, reconnection backs off and re-announces.
import { describe, expect, it } from "vitest";
import { type EdgeTransportOptions, edgeTransport } from "../../adapters/edge-client/index.ts";
import {
  createInProcessHub,
  createNode,
  defineRouter,
  encodeFrame,
  encodeLiveFrame,
  isLiveFrameText,
  isSdkClientError,
  type LogEntry,
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
  const accept = async (
    i: number,
    edge: SystemNode = edgeNode(clock),
    serving: { hello?: { maxFrameBytes: number } } = {},
  ) => {
    await settle();
    await serveEdge(socket(i), edge, serving);
    await settle();
    return edge;
  };
  /** What the node reports as rejected frames and answers nobody waited for. */
  const rejected: TelemetryEvent[] = [];
  client.telemetry.on("frame_rejected", (event) => rejected.push(event));
  client.telemetry.on("late_reply_dropped", (event) => rejected.push(event));
  return { clock, net, client, transport, socket, accept, rejected };
}

/** A logger that keeps what it is given. */
function recordingLogger() {
  const entries: LogEntry[] = [];
  return { entries, logger: { log: (entry: LogEntry) => entries.push(entry) } };
}

/** The request frames the client sent on `socket`, parsed. */
const requestsOn = (socket: FakeSocket) =>
  socket.sent.filter((text) => text.includes('"kind":"request"')).map((text) => ({ text, ...JSON.parse(text) }));

/** The control frames the client sent on `socket`, parsed. */
const liveOn = (socket: FakeSocket) => socket.sent.filter(isLiveFrameText).map((text) => JSON.parse(text) as unknown);

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

  it("connects quietly: its announcement before the edge is there is not a failed send", async () => {
    const { client, accept, rejected } = await setup();
    // (`frame_rejected` with code SEND_FAILED is what a failed best-effort send reports, with a `send_failed` warning.)
    client.register(defineRouter({ name: "later", services: { later: (msg) => msg.ok() }, authorize: () => true }));
    const edge = await accept(0);
    expect(rejected).toEqual([]);
    // and the edge learned every service once it joined
    expect(edge.discover(Message.new("later"))).toEqual([{ node: "browser-1", router: "later" }]);
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

  it("throws SdkClientError NODE_CLOSED when sending to the edge while disconnected; the node then sees no edge", async () => {
    const { client, transport, socket, accept } = await setup();
    await settle();
    const sendNow = () => transport.send('{"kind":"probe"}', "edge");
    expect(sendNow).toThrow(expect.objectContaining({ name: "SdkClientError", code: "NODE_CLOSED" }));
    // A frame for everyone has nobody to reach yet: dropped, not an error (the node announces to the edge when it joins).
    expect(() => transport.send('{"kind":"probe"}')).not.toThrow();
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

describe("edgeTransport: the edge's live channel", () => {
  const padded = (chars: number) => Message.new("hello", { rawRequest: { name: "x".repeat(chars) } });

  it("after the edge's hello, fails a frame over its limit at once with FRAME_TOO_LARGE, unsent; one at the limit goes", async () => {
    const { client, socket, accept, rejected } = await setup();
    await accept(0, undefined, { hello: { maxFrameBytes: 2_000 } });
    expect((await client.dispatch(padded(100))).response?.status).toBe("ok");
    // The frames differ only in the padding (same ids' lengths, no clock advance): exactly at the limit, then one byte over.
    const atLimit = 100 + 2_000 - (requestsOn(socket(0))[0]?.text.length ?? 0);
    expect((await client.dispatch(padded(atLimit))).response?.status).toBe("ok");
    expect(requestsOn(socket(0))[1]?.text).toHaveLength(2_000);
    const sentBefore = socket(0).sent.length;
    const over = await client.dispatch(padded(atLimit + 1)); // no clock advance: not a timeout
    expect(over.response).toEqual({
      status: "error",
      reason: { code: "FRAME_TOO_LARGE", message: "frame is larger than 2000 bytes (the edge's limit)" },
    });
    expect(socket(0).sent).toHaveLength(sentBefore); // nothing reached the edge
    expect(rejected).toEqual([]); // the hello never reached the node as a (malformed) frame
    await client.close();
  });

  it("keeps the limit per connection: none before a hello, the new edge's after a reconnection", async () => {
    const { client, clock, socket, accept } = await setup();
    await accept(0); // an edge that sends no hello: no limit on this side (the edge refuses what it must)
    expect((await client.dispatch(padded(5_000))).response?.status).toBe("ok");
    socket(0).drop();
    await clock.advance(100);
    await accept(1, undefined, { hello: { maxFrameBytes: 4_000 } });
    expect((await client.dispatch(padded(5_000))).response).toMatchObject({
      status: "error",
      reason: { code: "FRAME_TOO_LARGE" },
    });
    expect((await client.dispatch(padded(1_000))).response?.status).toBe("ok");
    await client.close();
  });

  it("reports a refusal once in the log and never to the node; the edge's error reply answers the attempt once", async () => {
    const { entries, logger } = recordingLogger();
    const { client, clock, socket, accept, rejected } = await setup({ logger });
    await accept(0, edgeNode(clock, { started: 0 }), { hello: { maxFrameBytes: 65_536 } });
    const pending = client.dispatch(Message.new("slow"), { timeoutMs: 60_000 });
    await settle();
    const { attemptId } = requestsOn(socket(0))[0] as { attemptId: string };
    // What the edge sends for a frame it refused: the refusal, then an error reply for its attempt.
    socket(0).deliver(
      encodeLiveFrame({
        live: "refused",
        code: "FRAME_TOO_LARGE",
        message: "too large",
        attemptId,
        limitBytes: 65_536,
      }),
    );
    socket(0).deliver(
      encodeFrame({
        kind: "reply",
        from: "edge",
        attemptId,
        envelope: Message.new("slow").error({ code: "FRAME_TOO_LARGE", limitBytes: 65_536 }),
      }),
    );
    socket(0).deliver('{"live":"pong"}');
    socket(0).deliver('{"live":"from-a-newer-edge","x":1}');
    expect((await pending).response).toEqual({
      status: "error",
      reason: { code: "FRAME_TOO_LARGE", limitBytes: 65_536 },
    });
    await settle();
    expect(rejected).toEqual([]);
    expect(entries.filter((entry) => entry.event === "edge_refused_frame")).toEqual([
      expect.objectContaining({
        level: "warn",
        message: "the edge refused a frame: FRAME_TOO_LARGE: too large",
        data: expect.objectContaining({ code: "FRAME_TOO_LARGE", attemptId, limitBytes: 65_536 }),
      }),
    ]);
    await client.close();
  });

  it("tracks aggregates: the set is sent after each hello and when it changes; pokes reach onPoke, not the node", async () => {
    const pokes: unknown[] = [];
    const { client, clock, transport, socket, accept, rejected } = await setup({
      onPoke: (aggregate, id, version) => pokes.push({ aggregate, id, version }),
    });
    transport.track([{ aggregate: "account", id: "acc-1" }]); // before connecting: remembered
    await settle();
    expect(liveOn(socket(0))).toEqual([]); // the socket is not open yet
    await accept(0, undefined, { hello: { maxFrameBytes: 65_536 } });
    const track = (...ids: string[]) => ({
      live: "track",
      aggregates: ids.map((id) => ({ aggregate: "account", id })),
    });
    expect(liveOn(socket(0))).toEqual([track("acc-1")]);
    transport.track([{ aggregate: "account", id: "acc-1" }]); // the same set: not sent again
    transport.track([
      { aggregate: "account", id: "acc-1" },
      { aggregate: "account", id: "acc-2" },
    ]);
    expect(liveOn(socket(0))).toEqual([track("acc-1"), track("acc-1", "acc-2")]);
    socket(0).deliver(encodeLiveFrame({ live: "poke", aggregate: "account", id: "acc-2", version: 7 }));
    await settle();
    expect(pokes).toEqual([{ aggregate: "account", id: "acc-2", version: 7 }]);
    // A new connection tracks nothing on the edge: the set goes again after its hello.
    socket(0).drop();
    await clock.advance(100);
    await accept(1, undefined, { hello: { maxFrameBytes: 65_536 } });
    expect(liveOn(socket(1))).toEqual([track("acc-1", "acc-2")]);
    transport.track([]);
    expect(liveOn(socket(1))).toEqual([track("acc-1", "acc-2"), track()]);
    expect(rejected).toEqual([]);
    await client.close();
  });

  it("refuses an invalid or oversize tracked set at once and keeps the last one; a throwing onPoke is logged", async () => {
    const { entries, logger } = recordingLogger();
    const { client, transport, socket, accept } = await setup({
      logger,
      onPoke: () => {
        throw new Error("handler bug");
      },
    });
    await accept(0, undefined, { hello: { maxFrameBytes: 4_000 } });
    transport.track([{ aggregate: "account", id: "acc-1" }]);
    expect(() => transport.track([{ aggregate: "not a name", id: "x" }])).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    expect(() => transport.track([{ aggregate: "account", id: "" }])).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    const many = Array.from({ length: 200 }, (_, i) => ({ aggregate: "account", id: `acc-${i}` }));
    expect(() => transport.track(many)).toThrow(expect.objectContaining({ code: "FRAME_TOO_LARGE" }));
    expect(liveOn(socket(0))).toEqual([{ live: "track", aggregates: [{ aggregate: "account", id: "acc-1" }] }]);
    socket(0).deliver(encodeLiveFrame({ live: "poke", aggregate: "account", id: "acc-1", version: 1 }));
    await settle();
    expect(entries.filter((entry) => entry.event === "edge_poke_failed")).toEqual([
      expect.objectContaining({ level: "error", message: "onPoke threw: handler bug" }),
    ]);
    expect((await client.dispatch(hello())).response?.status).toBe("ok"); // the connection carries on
    await client.close();
  });
});

describe("edgeTransport: tickets", () => {
  /** A ticket endpoint: each call answers the next of `answers` (a ticket, or a refusal). */
  function ticketEndpoint(...answers: (string | Response)[]) {
    const calls: { url: string; init: RequestInit | undefined }[] = [];
    const fetchTicket = async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), init });
      const answer = answers[Math.min(calls.length, answers.length) - 1] ?? "none";
      return typeof answer === "string" ? Response.json({ ticket: answer, expiresAt: 0 }) : answer.clone();
    };
    return { calls, fetch: fetchTicket as typeof fetch };
  }

  it("gets a fresh ticket before each connection and puts it, never a token, in the URL", async () => {
    const endpoint = ticketEndpoint("k1", "k2");
    let session = "s1";
    const { client, clock, net, socket, accept } = await setup({
      getToken: undefined,
      tickets: { headers: () => ({ authorization: `Bearer ${session}` }), fetch: endpoint.fetch },
    });
    await accept(0);
    expect(endpoint.calls).toEqual([
      {
        url: "https://edge.test/x3m/ws/ticket",
        init: {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer s1" },
          body: "{}",
        },
      },
    ]);
    expect(client.peers()).toEqual(["edge"]);
    session = "s2"; // refreshed: the next ticket request uses it
    socket(0).drop();
    await clock.advance(100);
    expect(
      endpoint.calls.map((call) => (call.init?.headers as Record<string, string> | undefined)?.authorization),
    ).toEqual(["Bearer s1", "Bearer s2"]);
    expect(net.sockets.map((s) => s.url)).toEqual([
      "wss://edge.test/x3m/ws?ticket=k1",
      "wss://edge.test/x3m/ws?ticket=k2",
    ]);
    await client.close();
  });

  it("asks tickets.url when given (ws:// endpoints default to http://)", async () => {
    const endpoint = ticketEndpoint("k1");
    const { client } = await setup({
      url: "ws://localhost:8787/x3m/ws",
      getToken: undefined,
      tickets: { fetch: endpoint.fetch },
    });
    await settle();
    expect(endpoint.calls[0]?.url).toBe("http://localhost:8787/x3m/ws/ticket");
    await client.close();
    const custom = ticketEndpoint("k1");
    const other = await setup({
      getToken: undefined,
      tickets: { url: "https://auth.example/tickets", fetch: custom.fetch },
    });
    await settle();
    expect(custom.calls[0]?.url).toBe("https://auth.example/tickets");
    await other.client.close();
  });

  it("a refused ticket request is logged with the edge's reason and retried with backoff, opening no socket", async () => {
    const { entries, logger } = recordingLogger();
    const refused = Response.json(
      { error: { code: "UNAUTHENTICATED", message: "authentication required" } },
      { status: 401 },
    );
    const endpoint = ticketEndpoint(refused, refused, "k3");
    const { client, clock, net } = await setup({ getToken: undefined, tickets: { fetch: endpoint.fetch }, logger });
    await settle();
    expect(net.sockets).toHaveLength(0);
    expect(entries).toEqual([
      expect.objectContaining({
        level: "warn",
        event: "edge_connect_failed",
        message:
          "no ticket: https://edge.test/x3m/ws/ticket refused the request (401 UNAUTHENTICATED: authentication required); retrying in 100 ms",
      }),
    ]);
    await clock.advance(100 + 200);
    expect(endpoint.calls).toHaveLength(3);
    expect(net.sockets.map((s) => s.url)).toEqual(["wss://edge.test/x3m/ws?ticket=k3"]);
    expect(entries.map((entry) => entry.level)).toEqual(["warn", "debug"]); // one warning per run of failures
    await client.close();
  });

  it("a connection closed before the edge spoke (a refused ticket: 401 before the upgrade) says so in the log", async () => {
    const { entries, logger } = recordingLogger();
    const endpoint = ticketEndpoint("expired", "k2");
    const { client, clock, net, socket, accept } = await setup({
      getToken: undefined,
      tickets: { fetch: endpoint.fetch },
      logger,
    });
    await settle();
    socket(0).refuse();
    expect(entries).toEqual([
      expect.objectContaining({
        level: "warn",
        event: "edge_connect_failed",
        message: expect.stringContaining("before it spoke (its upgrade refused: a bad or expired ticket or token"),
      }),
    ]);
    await clock.advance(100);
    expect(net.sockets.map((s) => s.url)).toEqual([
      "wss://edge.test/x3m/ws?ticket=expired",
      "wss://edge.test/x3m/ws?ticket=k2",
    ]);
    await accept(1);
    expect(client.peers()).toEqual(["edge"]);
    await client.close();
  });

  it("refuses tickets and getToken together, and an invalid tickets.url, at once", () => {
    const net = fakeSockets();
    const url = "wss://edge.test/x3m/ws";
    expect(() => edgeTransport({ url, WebSocket: net.WebSocket, getToken: () => "t", tickets: {} })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    expect(() => edgeTransport({ url, WebSocket: net.WebSocket, tickets: { url: "/relative" } })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
  });
});
