// The edge client in Node against the real edge Worker over real sockets: the workerd suite's Worker runs
// locally (wrangler's test harness: workerd, SQLite-backed objects), Node's own global WebSocket connects
// to it, through a TCP proxy the test can cut to simulate a network drop. The client is imported from the
// `x3m-system/edge-client` entry's source, as plain Node loads it (no Workers bundle, no `cloudflare:`).
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestHarness } from "wrangler";
import { edgeTransport } from "../../adapters/edge-client/index.ts";
import { createNode, Message, type SystemNode } from "../../src/index.ts";

const worker = createTestHarness({ workers: [{ configPath: new URL("../workerd/wrangler.toml", import.meta.url) }] });

/** A TCP proxy to the Worker: `cut()` kills every connection through it (a network drop); it keeps listening. */
function tcpProxy(target: URL): { server: Server; cut(): void; url(path: string): string } {
  const open = new Set<Socket>();
  const server = createServer((client) => {
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
