// The edge client in Node against the real edge Worker over real sockets: the workerd suite's Worker runs
// locally (wrangler's test harness: workerd, SQLite-backed objects), Node's own global WebSocket connects
// to it, through a TCP proxy the test can cut to simulate a network drop (and that counts the bytes the
// client sends). The client is imported from the `x3m-system/edge-client` entry's source, as plain Node
// loads it (no Workers bundle, no `cloudflare:`).
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestHarness } from "wrangler";
import {
  type EdgeSocketConstructor,
  type EdgeTransportOptions,
  edgeTransport,
} from "../../adapters/edge-client/index.ts";
import { createNode, type LogEntry, Message, type SystemNode, type TelemetryEvent } from "../../src/index.ts";

const worker = createTestHarness({ workers: [{ configPath: new URL("../workerd/wrangler.toml", import.meta.url) }] });

/**
 * A TCP proxy to the Worker: `cut()` kills every connection through it (a network drop); it keeps listening.
 * `sentBytes()` counts what clients sent through it, WebSocket framing included.
 */
function tcpProxy(target: URL): { server: Server; cut(): void; url(path: string): string; sentBytes(): number } {
  const open = new Set<Socket>();
  let sent = 0;
  const server = createServer((client) => {
    client.on("data", (chunk: Buffer) => {
      sent += chunk.byteLength;
    });
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  return {
    server,
    sentBytes: () => sent,
    cut: () => {
      for (const socket of open) socket.destroy();
    },
    url: (path) => {
      const address = server.address();
      if (!address || typeof address === "string") throw new Error("proxy not listening");
      return `ws://127.0.0.1:${address.port}${path}`;
    },
  };
}

let proxy: ReturnType<typeof tcpProxy>;
let httpOrigin = "";

beforeAll(async () => {
  const listening = (await worker.listen()).url;
  httpOrigin = new URL(listening).origin;
  proxy = tcpProxy(listening);
  await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
}, 60_000);

afterAll(async () => {
  proxy?.cut();
  await new Promise((resolve) => proxy?.server.close(resolve));
  await worker.close();
});

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (const started = Date.now(); !check(); await new Promise((resolve) => setTimeout(resolve, 10))) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
  }
}

async function connected(id: string, token = "good"): Promise<{ node: SystemNode; tokens: () => number }> {
  let tokens = 0;
  const node = createNode({ id, announceIntervalMs: 0, maxFrameBytes: 65_536 });
  await node.connect(
    edgeTransport({
      url: proxy.url("/x3m/ws"),
      getToken: () => {
        tokens++;
        return token;
      },
      backoff: { initialMs: 50, maxMs: 200 },
    }),
  );
  return { node, tokens: () => tokens };
}

/** Node's WebSocket, recording the URLs it opens and the frames the client sends. */
function recordingWebSocket() {
  const urls: string[] = [];
  const sent: string[] = [];
  class Recording extends WebSocket {
    constructor(url: string) {
      super(url);
      urls.push(url);
    }
    override send(data: Parameters<WebSocket["send"]>[0]): void {
      if (typeof data === "string") sent.push(data);
      super.send(data);
    }
  }
  return { urls, sent, WebSocket: Recording as EdgeSocketConstructor };
}

/** A client node with what it logs and rejects recorded, connected through the proxy with `options`. */
async function observed(id: string, options: Partial<EdgeTransportOptions> = {}) {
  const logged: LogEntry[] = [];
  const logger = { log: (entry: LogEntry) => logged.push(entry) };
  const rejected: TelemetryEvent[] = [];
  const socket = recordingWebSocket();
  // Larger than the edge's limit: the edge's hello is what stops a frame too large for it.
  const node = createNode({ id, announceIntervalMs: 0, maxFrameBytes: 1_048_576, logger });
  node.telemetry.on("frame_rejected", (event) => rejected.push(event));
  const transport = edgeTransport({
    url: proxy.url("/x3m/ws"),
    WebSocket: socket.WebSocket,
    backoff: { initialMs: 50, maxMs: 200 },
    logger,
    ...options,
  });
  await node.connect(transport);
  return { node, transport, socket, logged, rejected };
}

/** `POST /x3m/ws/ticket` through the proxy (what the client does by default), counted. */
function ticketFetch(answer?: () => Response) {
  let calls = 0;
  return {
    calls: () => calls,
    fetch: ((input: string | URL | Request, init?: RequestInit) => {
      calls++;
      return answer ? Promise.resolve(answer()) : fetch(input, init);
    }) as typeof fetch,
  };
}

describe("edge client in Node, real Worker, real sockets", () => {
  it("sees the edge as a node and dispatches to an aggregate object through it, as the authenticated user", async () => {
    const { node } = await connected("node-client-1");
    await until("the edge joined", () => node.peers().includes("edge"));
    expect(node.discover(Message.new("ws_open_account"))).toEqual([{ node: "edge", router: "ws_tests" }]);
    expect(node.discover(Message.new("ws_secret"))).toEqual([]);
    const id = `acc-${crypto.randomUUID()}`;
    const opened = await node.dispatch(Message.new("ws_open_account", { rawRequest: { id, owner: "ada" } }));
    expect(opened.response).toEqual({ status: "created", id, version: 0 });
    const echoed = await node.dispatch(
      Message.new("ws_echo_assigns").assign("principal", "mallory").assign("locale", "de"),
    );
    expect(echoed.response).toEqual({
      status: "ok",
      payload: { assigns: { locale: "de", principal: { user: "ada" } }, events: 0 },
    });
    await node.close();
  });

  it("never joins with a rejected token: refused before the upgrade, retried with a fresh token each time", async () => {
    const { node, tokens } = await connected("node-client-2", "bad");
    await until("a few refused attempts", () => tokens() >= 3);
    expect(node.peers()).toEqual([]);
    await node.close();
  });

  it("fails a request in flight at once when the network drops, then reconnects and re-announces", async () => {
    const { node } = await connected("node-client-3");
    await until("the edge joined", () => node.peers().includes("edge"));
    const pending = node.dispatch(Message.new("ws_slow", { rawRequest: { ms: 3_000 } }), { timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    proxy.cut();
    // At once: waiting for the handler would answer "slow done", waiting for the timeout service_timeout.
    expect((await pending).response).toEqual({
      status: "no_nodes_available",
      tried: [{ node: "edge", reason: "node_left" }],
    });
    await until("the edge joined again", () => node.peers().includes("edge"));
    const reply = await node.dispatch(Message.new("ws_slow", { rawRequest: { ms: 0 } }));
    expect(reply.response).toEqual({ status: "ok", payload: "slow done" });
    await node.close();
  });

  it("fails a request too large for the edge at once, on the client, with FRAME_TOO_LARGE", async () => {
    const { node } = await connected("node-client-4");
    await until("the edge joined", () => node.peers().includes("edge"));
    const big = Message.new("ws_echo_assigns", { rawRequest: { padding: "x".repeat(70_000) } });
    const reply = await node.dispatch(big);
    expect(reply.response).toMatchObject({ status: "error", reason: { code: "FRAME_TOO_LARGE" } });
    await node.close();
  });

  it("learns the edge's limit from its hello: one byte over fails at once, unsent, with FRAME_TOO_LARGE; at the limit is served", async () => {
    const { node, socket, logged, rejected } = await observed("node-client-5", { getToken: () => "good" });
    await until("the edge joined", () => node.peers().includes("edge"));
    // Padding in an assign the edge drops (not trusted): the frame is near the limit, the edge's answer small.
    const padded = (chars: number) => Message.new("ws_echo_assigns").assign("padding", "x".repeat(chars));
    const requests = () => socket.sent.filter((text) => text.includes('"kind":"request"'));
    expect((await node.dispatch(padded(1_000))).response?.status).toBe("ok");
    // Same ids' lengths and a 13-digit clock: only the padding differs, so this one is exactly 65,536 bytes.
    const atLimit = 1_000 + 65_536 - (requests()[0]?.length ?? 0);
    const served = await node.dispatch(padded(atLimit));
    expect(requests()[1]).toHaveLength(65_536);
    expect(served.response).toEqual({
      status: "ok",
      payload: { assigns: { principal: { user: "ada" } }, events: 0 },
    });
    const sentBefore = proxy.sentBytes();
    const over = await node.dispatch(padded(atLimit + 1), { timeoutMs: 60_000 });
    // The client's own answer: the edge's would carry `limitBytes`, waiting would end in `service_timeout`.
    expect(over.response).toEqual({
      status: "error",
      reason: { code: "FRAME_TOO_LARGE", message: "frame is larger than 65536 bytes (the edge's limit)" },
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(proxy.sentBytes()).toBe(sentBefore); // nothing of it reached the edge
    // The hello (and any other control frame) never reached the node as a frame: nothing malformed reported.
    expect(rejected).toEqual([]);
    expect(logged.filter((entry) => entry.event === "frame_rejected" || entry.event === "edge_refused_frame")).toEqual(
      [],
    );
    await node.close();
  });

  it("a request at the limit that the principal pushes over on the edge is answered FRAME_TOO_LARGE, not left waiting", async () => {
    const { node, socket, rejected } = await observed("node-client-10", { getToken: () => "good" });
    await until("the edge joined", () => node.peers().includes("edge"));
    // Padding in rawRequest, which the edge keeps: it adds the principal to the assigns, and the request no longer fits.
    const padded = (chars: number) => Message.new("ws_echo_assigns", { rawRequest: { padding: "x".repeat(chars) } });
    const requests = () => socket.sent.filter((text) => text.includes('"kind":"request"'));
    await node.dispatch(padded(1_000));
    const atLimit = 1_000 + 65_536 - (requests()[0]?.length ?? 0);
    const reply = await node.dispatch(padded(atLimit), { timeoutMs: 3_000 });
    expect(requests()[1]).toHaveLength(65_536); // the client's check let it go: it fits as sent
    // Its error reply could not carry the whole request back (too large too): it carries its id and service.
    expect(reply.response).toEqual({ status: "error", reason: { code: "FRAME_TOO_LARGE", limitBytes: 65_536 } });
    expect(rejected).toEqual([]);
    await node.close();
  });

  it("connects with a fresh ticket each time, never a token in the URL, and is Ada's on the edge", async () => {
    const tickets = ticketFetch();
    const { node, socket, rejected } = await observed("node-client-6", {
      tickets: { headers: () => ({ authorization: "Bearer good" }), fetch: tickets.fetch },
    });
    await until("the edge joined", () => node.peers().includes("edge"));
    const echoed = await node.dispatch(Message.new("ws_echo_assigns"));
    expect(echoed.response).toEqual({ status: "ok", payload: { assigns: { principal: { user: "ada" } }, events: 0 } });
    proxy.cut();
    await until("the edge joined again", () => socket.urls.length === 2 && node.peers().includes("edge"));
    expect(tickets.calls()).toBe(2);
    const used = socket.urls.map((url) => new URL(url).searchParams);
    expect(used.map((params) => params.has("token"))).toEqual([false, false]);
    expect(used[0]?.get("ticket")).toMatch(/^[\w-]+\.[\w-]+$/);
    expect(used[1]?.get("ticket")).not.toBe(used[0]?.get("ticket"));
    expect((await node.dispatch(Message.new("ws_echo_assigns"))).response?.status).toBe("ok");
    expect(rejected).toEqual([]);
    await node.close();
  });

  it("a refused ticket request or a bad ticket never joins, says why in the log, and keeps asking for fresh tickets", async () => {
    const refusedTickets = ticketFetch();
    const refused = await observed("node-client-7", {
      tickets: { headers: () => ({ authorization: "Bearer bad" }), fetch: refusedTickets.fetch },
    });
    const forgedTickets = ticketFetch(() => Response.json({ ticket: "eyJwIjp7InVzZXIiOiJyb290In19.forged" }));
    const forged = await observed("node-client-8", { tickets: { fetch: forgedTickets.fetch } });
    await until("a few refused attempts each", () => refusedTickets.calls() >= 3 && forgedTickets.calls() >= 3);
    expect(refused.node.peers()).toEqual([]);
    expect(forged.node.peers()).toEqual([]);
    const failures = (logged: LogEntry[]) => logged.filter((entry) => entry.event === "edge_connect_failed");
    expect(failures(refused.logged)[0]).toMatchObject({
      level: "warn",
      event: "edge_connect_failed",
      message: expect.stringContaining("refused the request (401 UNAUTHENTICATED: authentication required)"),
    });
    expect(failures(forged.logged)[0]).toMatchObject({
      level: "warn",
      event: "edge_connect_failed",
      message: expect.stringContaining("the edge closed the connection before it spoke"),
    });
    await Promise.all([refused.node.close(), forged.node.close()]);
  });

  it("tracks an aggregate: its commits poke onPoke, again after a reconnection (the set is sent on each connection)", async () => {
    const pokes: { aggregate: string; id: string; version: number }[] = [];
    const { node, transport, rejected } = await observed("node-client-9", {
      tickets: { headers: () => ({ authorization: "Bearer good" }) },
      onPoke: (aggregate, id, version) => pokes.push({ aggregate, id, version }),
    });
    await until("the edge joined", () => node.peers().includes("edge"));
    const id = `acc-${crypto.randomUUID()}`;
    await node.dispatch(Message.new("ws_open_account", { rawRequest: { id, owner: "ada" } }));
    transport.track([{ aggregate: "account", id }]);
    /** Deposits until a poke arrives: the edge registers the set asynchronously, so the first may come too early. */
    const depositUntilPoked = async () => {
      const before = pokes.length;
      for (let attempt = 0; pokes.length === before && attempt < 40; attempt++) {
        await node.dispatch(Message.new("ws_deposit", { rawRequest: { id, amount: 1 } }));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return pokes.at(-1);
    };
    expect(await depositUntilPoked()).toEqual({ aggregate: "account", id, version: expect.any(Number) });
    proxy.cut();
    await until("the edge joined again", () => node.peers().includes("edge"));
    expect(await depositUntilPoked()).toEqual({ aggregate: "account", id, version: expect.any(Number) });
    expect(rejected).toEqual([]);
    await node.close();
  });
});

describe("HTTP from Node to the real local Worker", () => {
  const post = (body: unknown, token = "good") =>
    fetch(`${httpOrigin}/x3m/dispatch`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("dispatches envelopes with HTTP statuses, as the authenticated user, with forged assigns dropped", async () => {
    const id = `acc-${crypto.randomUUID()}`;
    const opened = await post(Message.new("http_open", { rawRequest: { id, owner: "ada" } }).toJSON());
    expect(opened.status).toBe(201);
    expect(((await opened.json()) as { response: unknown }).response).toEqual({ status: "created", id, version: 0 });
    const deposit = await post(Message.new("http_deposit", { rawRequest: { id, amount: 5 } }).toJSON());
    expect(deposit.status).toBe(200);
    const forged = Message.new("http_echo").assign("principal", { user: "root", admin: true }).assign("locale", "fr");
    const echoed = (await (await post(forged.toJSON())).json()) as { response: { payload: { assigns: unknown } } };
    expect(echoed.response.payload.assigns).toEqual({ locale: "fr", principal: { user: "ada" } });
    expect((await post(Message.new("http_deposit", { rawRequest: { id, amount: 1 } }).toJSON(), "bad")).status).toBe(
      401,
    );
  });
});
