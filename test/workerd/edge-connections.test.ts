// The edge's hibernatable connections, inside workerd: sockets live in connection objects (one per
// principal), survive the object's eviction with their state in attachments, arm no timer while idle, get
// live pokes for the aggregates they track (under pull authorization, per socket's principal even when
// principals share an object), open with tickets, and refuse preset answers like every other door.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createEdgeWorker } from "../../adapters/durable-objects/index.ts";
import { edgeTransport } from "../../adapters/edge-client/index.ts";
import { createNode, defineRouter, encodeFrame, Message } from "../../src/index.ts";
import { eventually, quiet, selfWebSocket } from "./edge-client-socket.ts";
import { edgeClock } from "./edge-clock.ts";
import { authenticateTestToken } from "./edge-fixtures.ts";

const ORIGIN = "https://edge.test";
const ADA_SHARD = '{"user":"ada"}';
const connectionOf = (shard: string) => env.CONNECTIONS.get(env.CONNECTIONS.idFromName(shard));

/** A raw socket as `user` (the test's authenticate maps the token "good" to Ada; tickets carry any principal). */
async function socket(query = "?token=good") {
  const response = await exports.default.fetch(`${ORIGIN}/x3m/ws${query}`, { headers: { Upgrade: "websocket" } });
  const ws = response.webSocket;
  if (!ws) throw new Error(`no upgrade: ${response.status} ${await response.text()}`);
  ws.accept();
  const frames: Record<string, unknown>[] = [];
  ws.addEventListener("message", (event) => frames.push(JSON.parse(event.data as string)));
  return { ws, frames, response };
}

const dispatch = (message: Message) =>
  exports.default.fetch(`${ORIGIN}/x3m/dispatch`, {
    method: "POST",
    headers: { authorization: "Bearer good", "content-type": "application/json" },
    body: JSON.stringify(message.toJSON()),
  });

async function openAccount() {
  const id = `acc-${crypto.randomUUID()}`;
  expect((await dispatch(Message.new("http_open", { rawRequest: { id, owner: "ada" } }))).status).toBe(201);
  return id;
}

describe("hibernatable connections", () => {
  it("a socket stays open and working across an eviction of its connection object: requests both ways", async () => {
    const sockets = selfWebSocket();
    const node = createNode({ id: `tab-${crypto.randomUUID().slice(0, 6)}`, announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: "tab",
        services: { ws_ask_client: (msg) => msg.ok("the tab answered") },
        authorize: () => true,
      }),
    );
    await node.connect(
      edgeTransport({ url: `${ORIGIN}/x3m/ws`, getToken: () => "good", WebSocket: sockets.WebSocket }),
    );
    await eventually("the edge joined", () => node.peers().includes("edge"));
    await quiet(); // the tab's announcement reached the object
    const before = await runInDurableObject(connectionOf(ADA_SHARD), (instance) => instance);
    await evictDurableObject(connectionOf(ADA_SHARD));
    const after = await runInDurableObject(connectionOf(ADA_SHARD), (instance, state) => ({
      instance,
      sockets: state.getWebSockets().length,
    }));
    expect(after.instance).not.toBe(before); // really evicted: a new instance, the same socket
    expect(after.sockets).toBeGreaterThanOrEqual(1);
    // The woken object rebuilt its node from the sockets' attachments and the stored announcement.
    const viaTab = await node.dispatch(Message.new("ws_ask_client", { rawRequest: { via: node.id } }));
    expect(viaTab.response).toEqual({ status: "ok", payload: "the tab answered" });
    const echo = await node.dispatch(Message.new("ws_echo_assigns"));
    expect(echo.response).toMatchObject({ status: "ok", payload: { assigns: { principal: { user: "ada" } } } });
    expect(sockets.sockets).toHaveLength(1); // never reconnected
    await node.close();
  });

  it("arms no timer while idle: only a call in flight holds one", async () => {
    const sockets = selfWebSocket();
    const node = createNode({ id: `tab-${crypto.randomUUID().slice(0, 6)}`, announceIntervalMs: 0 });
    node.register(
      defineRouter({ name: "tab", services: { ws_ask_client: (msg) => msg.ok("answered") }, authorize: () => true }),
    );
    await node.connect(
      edgeTransport({ url: `${ORIGIN}/x3m/ws`, getToken: () => "good", WebSocket: sockets.WebSocket }),
    );
    await eventually("the edge joined", () => node.peers().includes("edge"));
    await node.dispatch(Message.new("ws_ask_client", { rawRequest: { via: node.id } })); // the edge called the tab
    await node.dispatch(Message.new("ws_echo_assigns"));
    await quiet();
    const armed = await runInDurableObject(connectionOf(ADA_SHARD), async (_instance, state) => ({
      timers: edgeClock.armed,
      alarm: await state.storage.getAlarm(),
    }));
    expect(armed).toEqual({ timers: 0, alarm: null });
    await node.close();
  });

  it("a tracked aggregate pokes its sockets when it commits, with no data; untracked sockets hear nothing", async () => {
    const id = await openAccount();
    const tracking = await socket();
    const idle = await socket();
    tracking.ws.send(JSON.stringify({ live: "track", aggregates: [{ aggregate: "account", id }] }));
    await quiet();
    expect((await dispatch(Message.new("http_deposit", { rawRequest: { id, amount: 5 } }))).status).toBe(200);
    await eventually("the poke", () => tracking.frames.some((f) => f.live === "poke"));
    expect(tracking.frames.find((f) => f.live === "poke")).toEqual({
      live: "poke",
      aggregate: "account",
      id,
      version: 1,
    });
    expect(idle.frames.filter((f) => f.live === "poke")).toEqual([]);
    // Untracked (the whole set is replaced): the next commit pokes nobody, and the aggregate forgets the object.
    tracking.ws.send(JSON.stringify({ live: "track", aggregates: [] }));
    await quiet();
    await dispatch(Message.new("http_deposit", { rawRequest: { id, amount: 5 } }));
    await quiet(100);
    expect(tracking.frames.filter((f) => f.live === "poke")).toHaveLength(1);
    for (const s of [tracking, idle]) s.ws.close(1000, "done");
  });

  it("pokes only what the principal may read (the changes feed's authorization)", async () => {
    const id = await openAccount();
    const { ticket } = (await (
      await exports.default.fetch(`${ORIGIN}/x3m/ws/ticket`, {
        method: "POST",
        headers: { authorization: "Bearer good", "content-type": "application/json" },
        body: "{}",
      })
    ).json()) as { ticket: string };
    const ada = await socket(`?ticket=${encodeURIComponent(ticket)}`);
    ada.ws.send(JSON.stringify({ live: "track", aggregates: [{ aggregate: "account", id }] }));
    await quiet();
    await dispatch(Message.new("http_deposit", { rawRequest: { id, amount: 1 } }));
    await eventually("Ada's poke", () => ada.frames.some((f) => f.live === "poke"));
    ada.ws.close(1000, "done");
  });

  it("a track frame overtaken while it is authorized is dropped: the socket's last frame stands", async () => {
    const id = `own-${crypto.randomUUID()}`;
    expect((await dispatch(Message.new("owned_open", { rawRequest: { id } }))).status).toBe(201);
    const ada = await socket();
    const owned = JSON.stringify({ live: "track", aggregates: [{ aggregate: "owned_account", id }] });
    // Owned accounts are authorized by reading the account (a call out): the empty set overtakes it.
    ada.ws.send(owned);
    ada.ws.send(JSON.stringify({ live: "track", aggregates: [] }));
    await quiet(200);
    await dispatch(Message.new("owned_deposit", { rawRequest: { id, amount: 1 } }));
    await quiet(100);
    expect(ada.frames.filter((f) => f.live === "poke")).toEqual([]);
    // The same frame alone is authorized and tracked: Ada owns the account.
    ada.ws.send(owned);
    await quiet(200);
    await dispatch(Message.new("owned_deposit", { rawRequest: { id, amount: 1 } }));
    await eventually("the poke", () => ada.frames.some((f) => f.live === "poke"));
    ada.ws.close(1000, "done");
  });

  it("1,000 sockets tracking one aggregate each get its poke", async () => {
    const id = await openAccount();
    const sockets = await Promise.all(Array.from({ length: 1_000 }, () => socket()));
    for (const s of sockets) s.ws.send(JSON.stringify({ live: "track", aggregates: [{ aggregate: "account", id }] }));
    await quiet(200);
    await dispatch(Message.new("http_deposit", { rawRequest: { id, amount: 1 } }));
    await eventually("every poke", () => sockets.every((s) => s.frames.some((f) => f.live === "poke")), 10_000);
    for (const s of sockets) s.ws.close(1000, "done");
  }, 60_000);
});

describe("several principals in one connection object (a custom connectionShard)", () => {
  /**
   * An edge Worker whose upgrades all go to one connection object, whatever the principal: the suite's
   * `Connections` class serves them with its own options (account pulls: Ada yes, Bob no).
   */
  function sharedShardSockets() {
    const shard = `shared-${crypto.randomUUID()}`;
    const worker = createEdgeWorker<Cloudflare.Env>({
      routers: () => [],
      authenticate: authenticateTestToken,
      connections: (e) => e.CONNECTIONS,
      connectionShard: () => shard,
    });
    return async (token: "good" | "bob") => {
      const request = new Request(`${ORIGIN}/x3m/ws?token=${token}`, { headers: { Upgrade: "websocket" } });
      const ws = (await worker.fetch(request, env)).webSocket;
      if (!ws) throw new Error("no upgrade");
      ws.accept();
      const frames: Record<string, unknown>[] = [];
      ws.addEventListener("message", (event) => frames.push(JSON.parse(event.data as string)));
      await eventually("the edge spoke", () => frames.length >= 2);
      return { ws, frames };
    };
  }
  const track = (s: { ws: WebSocket }, ids: string[]) =>
    s.ws.send(JSON.stringify({ live: "track", aggregates: ids.map((id) => ({ aggregate: "account", id })) }));
  const pokes = (s: { frames: Record<string, unknown>[] }) => s.frames.filter((f) => f.live === "poke");

  it("a principal who may not read an aggregate gets no poke, whoever made the object watch it first", async () => {
    const socketAs = sharedShardSockets();
    const ada = await socketAs("good");
    const bob = await socketAs("bob");
    // `first`: Ada's track made the object watch it before Bob tracks it. `second`: Bob tracks it before Ada.
    const [first, second] = [await openAccount(), await openAccount()];
    track(ada, [first]);
    await quiet();
    track(bob, [first, second]);
    await quiet();
    track(ada, [first, second]);
    await quiet();
    for (const id of [first, second])
      expect((await dispatch(Message.new("http_deposit", { rawRequest: { id, amount: 1 } }))).status).toBe(200);
    await eventually("Ada's pokes", () => pokes(ada).length === 2);
    await quiet(100);
    expect(pokes(ada).map((f) => f.id)).toEqual(expect.arrayContaining([first, second]));
    expect(pokes(bob)).toEqual([]);
    for (const s of [ada, bob]) s.ws.close(1000, "done");
  });
});

describe("tickets for the upgrade (no session tokens in URLs)", () => {
  const ticketRequest = (headers: Record<string, string>, body = "{}") =>
    exports.default.fetch(`${ORIGIN}/x3m/ws/ticket`, { method: "POST", headers, body });

  it("a ticket is issued to an authenticated caller only, and opens a socket as that principal", async () => {
    expect((await ticketRequest({ "content-type": "application/json" })).status).toBe(401);
    expect((await ticketRequest({ authorization: "Bearer good", "content-type": "text/plain" })).status).toBe(415);
    const issued = (await (
      await ticketRequest({ authorization: "Bearer good", "content-type": "application/json" })
    ).json()) as { ticket: string; expiresAt: number };
    expect(issued.expiresAt).toBeGreaterThan(Date.now());
    const opened = await socket(`?ticket=${encodeURIComponent(issued.ticket)}`);
    await eventually("the edge spoke", () => opened.frames.length >= 2);
    expect(opened.frames[0]).toEqual({ live: "hello", maxFrameBytes: 65_536 });
    opened.ws.close(1000, "done");
  });

  it("a tampered, foreign or malformed ticket is refused with 401 before the upgrade", async () => {
    const { ticket } = (await (
      await ticketRequest({ authorization: "Bearer good", "content-type": "application/json" })
    ).json()) as { ticket: string };
    const [payload, signature] = ticket.split(".") as [string, string];
    const forged = btoa(JSON.stringify({ p: { user: "root" }, exp: Date.now() + 60_000 })).replace(/=+$/, "");
    for (const bad of [`${forged}.${signature}`, `${payload}.${signature.slice(1)}A`, "nonsense", `${ticket}.extra`]) {
      const response = await exports.default.fetch(`${ORIGIN}/x3m/ws?ticket=${encodeURIComponent(bad)}`, {
        headers: { Upgrade: "websocket" },
      });
      expect(response.status, bad).toBe(401);
      expect(response.webSocket).toBeNull();
    }
  });
});

describe("preset answers are refused on the WebSocket door too", () => {
  it("a request that already carries a response or is halted gets an error reply; the service never runs", async () => {
    const raw = await socket();
    const id = await openAccount();
    for (const [attemptId, envelope] of [
      ["forged-ok", Message.new("ws_deposit", { rawRequest: { id, amount: 1_000 } }).ok({ version: 999 })],
      ["forged-halted", Message.new("ws_deposit", { rawRequest: { id, amount: 1_000 } }).with({ halted: true })],
    ] as const) {
      raw.ws.send(encodeFrame({ kind: "request", from: "raw-preset", attemptId, op: "invoke", envelope }));
    }
    await eventually("both answers", () => raw.frames.filter((f) => f.kind === "reply").length === 2);
    for (const reply of raw.frames.filter((f) => f.kind === "reply")) {
      expect((reply.envelope as { response: unknown }).response).toMatchObject({
        status: "error",
        reason: { code: "INVALID_MESSAGE" },
      });
    }
    const state = (await env.ACCOUNTS.get(env.ACCOUNTS.idFromName(id)).state(id)) as { version: number } | undefined;
    expect(state?.version).toBe(0); // nothing deposited
    raw.ws.close(1000, "done");
  });
});
