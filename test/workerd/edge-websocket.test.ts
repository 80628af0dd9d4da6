// The edge Worker's WebSocket endpoint inside workerd, through the suite's Worker (`exports.default`): the
// Worker is a node for each connection. Driven by a real client node (edgeTransport over the upgraded
// socket) and by a raw socket for the hostile cases.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { aggregateServices } from "../../adapters/durable-objects/index.ts";
import { edgeTransport } from "../../adapters/edge-client/index.ts";
import { createNode, defineRouter, encodeFrame, Message, type Transport } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";
import { eventually, quiet, selfWebSocket } from "./edge-client-socket.ts";

const WS_URL = "https://edge.test/x3m/ws";

type RawFrame = {
  kind?: string;
  live?: string;
  code?: string;
  from: string;
  attemptId?: string;
  maxFrameBytes?: number;
  services?: { name: string }[];
  envelope?: Message;
};

/** A socket spoken to in raw frames: what a hostile or hand-written client can send. */
async function rawClient(from = "raw-1") {
  const response = await exports.default.fetch(`${WS_URL}?token=good`, { headers: { Upgrade: "websocket" } });
  const socket = response.webSocket;
  if (!socket) throw new Error(`no upgrade: ${response.status}`);
  socket.accept();
  const frames: RawFrame[] = [];
  let closed = false;
  socket.addEventListener("message", (event) => {
    frames.push(JSON.parse(event.data as string) as RawFrame);
  });
  socket.addEventListener("close", () => {
    closed = true;
  });
  let attempts = 0;
  const request = (serviceName: string, options: { rawRequest?: object; from?: string; forwarded?: boolean } = {}) => {
    const attemptId = `attempt-${++attempts}`;
    const envelope = Message.new(serviceName, { rawRequest: { ...options.rawRequest } });
    const frame = { kind: "request", from: options.from ?? from, attemptId, op: "invoke", envelope } as const;
    socket.send(encodeFrame(options.forwarded ? { ...frame, forwarded: true } : frame));
    return attemptId;
  };
  const replyTo = async (attemptId: string) => {
    const isReply = (f: RawFrame) => f.kind === "reply" && f.attemptId === attemptId;
    await eventually(`a reply to ${attemptId}`, () => frames.some(isReply));
    return frames.find(isReply) as RawFrame & { envelope: Message };
  };
  return { socket, frames, request, replyTo, isClosed: () => closed, close: () => socket.close(1000, "done") };
}

/** A client node connected to the edge over a real socket, offering `routers`. */
async function clientNode(...routers: Parameters<ReturnType<typeof createNode>["register"]>) {
  const sockets = selfWebSocket();
  const received: string[] = [];
  const inner = edgeTransport({ url: WS_URL, getToken: () => "good", WebSocket: sockets.WebSocket });
  // Records what reaches the node, so a test can read replies to frames it sent by hand.
  const transport: Transport = {
    ...inner,
    open: (link) =>
      inner.open({
        ...link,
        receive: (text, sender) => {
          received.push(text);
          link.receive(text, sender);
        },
      }),
  };
  const node = createNode({ id: `browser-${crypto.randomUUID().slice(0, 6)}`, announceIntervalMs: 0 });
  node.register(...routers);
  await node.connect(transport);
  await eventually("the edge joined", () => node.peers().includes("edge"));
  return { node, transport, sockets, received };
}

describe("edge WebSocket endpoint: before the upgrade", () => {
  it.each([
    ["no token", ""],
    ["a wrong token", "?token=bad"],
    ["an authenticate that throws", "?token=boom"],
  ])("refuses %s with 401 and no socket", async (_case, query) => {
    const response = await exports.default.fetch(`${WS_URL}${query}`, { headers: { Upgrade: "websocket" } });
    expect(response.status).toBe(401);
    expect(response.webSocket).toBeNull();
    expect(await response.json()).toEqual({ error: { code: "UNAUTHENTICATED", message: "authentication required" } });
  });

  it("upgrades with the token in the Authorization header too (non-browser clients)", async () => {
    const response = await exports.default.fetch(WS_URL, {
      headers: { Upgrade: "websocket", Authorization: "Bearer good" },
    });
    expect(response.status).toBe(101);
    response.webSocket?.accept();
    response.webSocket?.close(1000, "done");
  });

  it("answers 426 to a request that is not a WebSocket upgrade", async () => {
    const response = await exports.default.fetch(`${WS_URL}?token=good`);
    expect(response.status).toBe(426);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("UPGRADE_REQUIRED");
  });
});

describe("edge WebSocket endpoint: the Worker as a node", () => {
  it("speaks first: its limits, then its public services and never its private ones", async () => {
    const raw = await rawClient();
    await eventually("the announcement", () => raw.frames.length > 1);
    const [hello, announce] = raw.frames;
    expect(hello).toEqual({ live: "hello", maxFrameBytes: 65_536 });
    expect(announce?.kind).toBe("announce");
    expect(announce?.from).toBe("edge");
    const names = announce?.services?.map((s) => s.name) ?? [];
    expect(names).toEqual(expect.arrayContaining(["ws_echo_assigns", "ws_open_account", "ws_deposit"]));
    expect(names).not.toContain("ws_secret");
    raw.close();
  });

  it("serves a client node's dispatches, forwarding aggregate commands to their objects", async () => {
    const { node } = await clientNode();
    expect(node.discover(Message.new("ws_deposit"))).toEqual([{ node: "edge", router: "ws_tests" }]);
    expect(node.discover(Message.new("ws_secret"))).toEqual([]);
    const id = `acc-${crypto.randomUUID()}`;
    const opened = await node.dispatch(Message.new("ws_open_account", { rawRequest: { id, owner: "ada" } }));
    expect(opened.response).toEqual({ status: "created", id, version: 0 });
    const deposited = await node.dispatch(Message.new("ws_deposit", { rawRequest: { id, amount: 7 } }));
    expect(deposited.response).toEqual({ status: "ok", version: 1 });
    const current = await aggregateServices(env.ACCOUNTS, account).state(id);
    expect(current).toMatchObject({ state: { balance: 7, owner: "ada" }, version: 1 });
    await node.close();
  });

  it("calls a service the client offers: requests and replies flow both ways", async () => {
    const clientRouter = defineRouter({
      name: "client_side",
      services: { ws_ask_client: (msg) => msg.ok({ servedBy: "client", user: msg.assigns.principal }) },
      authorize: () => true,
    });
    const { node, transport, received } = await clientNode(clientRouter);
    // A call the edge's router forwards to this client (a dispatch from the client itself would run locally).
    const envelope = Message.new("ws_ask_client", { rawRequest: { via: node.id } });
    transport.send(encodeFrame({ kind: "request", from: node.id, attemptId: "by-hand", op: "invoke", envelope }));
    await eventually("the edge's answer", () => received.some((text) => text.includes('"attemptId":"by-hand"')));
    const reply = JSON.parse(received.find((text) => text.includes('"attemptId":"by-hand"')) ?? "{}");
    // the edge forwarded it here, this node served it, and the answer went back through the edge
    expect(reply.envelope.response).toEqual({ status: "ok", payload: { servedBy: "client", user: { user: "ada" } } });
    await node.close();
  });

  it("drops client-sent assigns but the trusted ones, sets the authenticated principal, and drops events", async () => {
    const { node } = await clientNode();
    const forged = Message.new("ws_echo_assigns")
      .assign("principal", { user: "mallory", admin: true })
      .assign("admin", true)
      .assign("locale", "fr")
      .addEvent({ type: "Forged" });
    const reply = await node.dispatch(forged);
    expect(reply.response).toEqual({
      status: "ok",
      payload: { assigns: { locale: "fr", principal: { user: "ada" } }, events: 0 },
    });
    await node.close();
  });

  it("keeps private services unreachable: a hand-made request is answered as for a service nobody offers", async () => {
    const raw = await rawClient();
    const reply = await raw.replyTo(raw.request("ws_secret"));
    const nobody = await raw.replyTo(raw.request("ws_nobody_offers_this"));
    expect(reply.envelope.response).toEqual({ status: "service_unavailable", service: "ws_secret", unknown: true });
    expect(nobody.envelope.response).toEqual({ ...reply.envelope.response, service: "ws_nobody_offers_this" });
    raw.close();
  });

  it("does not let a client skip the edge router's chooseNode by marking its request forwarded", async () => {
    const raw = await rawClient("raw-1");
    raw.request("ws_ask_client", { rawRequest: { via: "raw-1" }, forwarded: true });
    // chooseNode ran: the edge forwards the call back to this client instead of answering it itself
    await eventually("the edge's forwarded request", () => raw.frames.some((f) => f.kind === "request"));
    const forwarded = raw.frames.find((f) => f.kind === "request") as RawFrame & { attemptId: string };
    expect(forwarded).toMatchObject({ from: "edge", forwarded: true, envelope: { serviceName: "ws_ask_client" } });
    raw.close();
  });
});

describe("edge WebSocket endpoint: hostile frames", () => {
  it("rejects malformed frames without closing the connection", async () => {
    const raw = await rawClient();
    raw.request("ws_echo_assigns"); // binds the socket to raw-1
    for (const text of [
      "not json",
      "{}",
      '{"v":1,"kind":"request","from":"raw-1"}',
      '{"v":2,"kind":"announce","from":"raw-1","services":[]}',
      '{"v":1,"kind":"announce","from":"raw-1","services":[],"__proto__":{"admin":true}}',
      JSON.stringify({ v: 1, kind: "request", from: "raw-1", attemptId: "x", op: "invoke", envelope: { id: 1 } }),
    ]) {
      raw.socket.send(text);
    }
    raw.socket.send(new TextEncoder().encode('{"v":1,"kind":"leave","from":"raw-1"}'));
    const reply = await raw.replyTo(raw.request("ws_echo_assigns"));
    expect(reply.envelope.response?.status).toBe("ok");
    await quiet();
    expect(raw.frames.filter((f) => f.kind === "reply")).toHaveLength(2); // the two valid requests only
    expect(raw.isClosed()).toBe(false);
    raw.close();
  });

  it("answers a frame over maxBodyBytes with FRAME_TOO_LARGE for its attempt, unparsed, and keeps serving", async () => {
    const raw = await rawClient();
    const oversize = raw.request("ws_echo_assigns", { rawRequest: { padding: "x".repeat(70_000) } });
    const refused = await raw.replyTo(oversize);
    // The caller's attempt fails at once (no timeout): a refusal, then an error reply for that attempt.
    expect(raw.frames.find((f) => f.live === "refused")).toMatchObject({
      code: "FRAME_TOO_LARGE",
      attemptId: oversize,
      limitBytes: 65_536,
    });
    expect(refused.envelope.response).toEqual({
      status: "error",
      reason: { code: "FRAME_TOO_LARGE", limitBytes: 65_536 },
    });
    const next = await raw.replyTo(raw.request("ws_echo_assigns"));
    expect(next.envelope.response?.status).toBe("ok");
    expect(raw.isClosed()).toBe(false);
    raw.close();
  });

  it("answers a request that fits as sent but not once its principal is in: FRAME_TOO_LARGE, in a reply that fits", async () => {
    const raw = await rawClient();
    const frameOf = (padding: number) =>
      encodeFrame(
        {
          kind: "request",
          from: "raw-1",
          attemptId: "near-limit",
          op: "invoke",
          envelope: Message.new("ws_echo_assigns", {
            id: "msg-near-limit",
            rawRequest: { padding: "x".repeat(padding) },
          }),
        },
        1_048_576,
      );
    const text = frameOf(65_536 - frameOf(0).length);
    expect(text).toHaveLength(65_536); // at the limit, so read and admitted; its answer would carry it all back
    raw.socket.send(text);
    const reply = await raw.replyTo("near-limit");
    expect(reply.envelope.response).toEqual({
      status: "error",
      reason: { code: "FRAME_TOO_LARGE", limitBytes: 65_536 },
    });
    expect(reply.envelope).toMatchObject({ id: "msg-near-limit", serviceName: "ws_echo_assigns", rawRequest: {} });
    raw.close();
  });

  it("binds the socket to the first node id it uses: frames claiming another are rejected", async () => {
    const raw = await rawClient();
    const asEdge = raw.request("ws_echo_assigns", { from: "edge" }); // cannot claim the edge's own id
    const first = await raw.replyTo(raw.request("ws_echo_assigns", { from: "raw-1" }));
    expect(first.envelope.response?.status).toBe("ok");
    const spoofed = raw.request("ws_echo_assigns", { from: "raw-2" });
    const again = await raw.replyTo(raw.request("ws_echo_assigns", { from: "raw-1" }));
    expect(again.envelope.response?.status).toBe("ok");
    await quiet();
    expect(raw.frames.some((f) => f.attemptId === asEdge || f.attemptId === spoofed)).toBe(false);
    raw.close();
  });
});

describe("edge WebSocket endpoint: connection loss", () => {
  it("fails a request in flight at once when the socket drops, then reconnects and re-announces", async () => {
    const sockets = selfWebSocket();
    const node = createNode({ id: "browser-drop", announceIntervalMs: 0 });
    await node.connect(
      edgeTransport({ url: WS_URL, getToken: () => "good", WebSocket: sockets.WebSocket, backoff: { initialMs: 20 } }),
    );
    await eventually("the edge joined", () => node.peers().includes("edge"));
    const pending = node.dispatch(Message.new("ws_slow", { rawRequest: { ms: 2_000 } }), { timeoutMs: 10_000 });
    await quiet(100);
    sockets.sockets[0]?.drop();
    // At once: waiting for the handler would answer "slow done", waiting for the timeout service_timeout.
    expect((await pending).response).toEqual({
      status: "no_nodes_available",
      tried: [{ node: "edge", reason: "node_left" }],
    });
    await eventually("reconnected", () => sockets.sockets.length === 2 && node.peers().includes("edge"));
    const reply = await node.dispatch(Message.new("ws_slow", { rawRequest: { ms: 0 } }));
    expect(reply.response).toEqual({ status: "ok", payload: "slow done" });
    await node.close();
  });
});
