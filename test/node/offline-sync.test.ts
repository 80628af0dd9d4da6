// The offline client on fake-indexeddb against an in-process stand-in for the edge's sync endpoint
// (a memory aggregate host behind the same push/pull protocol). Fast checks of the client's rules; the
// real edge Worker and real IndexedDB are exercised in Chromium by test/browser/sync.test.ts.
import * as fake from "fake-indexeddb";
import { afterEach, describe, expect, it } from "vitest";
import { createOfflineClient, type OfflineClient, openIndexedDbEventStore } from "../../adapters/indexeddb/index.ts";
import {
  createAggregateHost,
  createMemoryEventStore,
  createNode,
  defineRouter,
  Message,
  type SystemNode,
} from "../../src/index.ts";
import { seededRandom } from "../../src/testing/index.ts";
import { account } from "../fixtures/account.ts";
import { useFakeIndexedDbGlobals } from "./fake-indexeddb.ts";

useFakeIndexedDbGlobals();

/** The edge's sync endpoint in miniature: push runs commands in order on a memory host, pull reads its store. */
function standInEdge() {
  const store = createMemoryEventStore();
  const host = createAggregateHost(account, { store });
  const node = createNode({ id: "edge", announceIntervalMs: 0 });
  node.register(
    defineRouter({
      name: "accounts",
      services: {
        open_account: host.onNew("open"),
        deposit: host.on("deposit"),
        withdraw: host.on("withdraw"),
        close_account: host.on("withdraw_all_and_close"),
      },
      authorize: () => true,
    }),
  );
  let down = false;
  let portal = false;
  let maxPushBytes = Number.POSITIVE_INFINITY;
  const forbidden = new Set<string>();
  const requests: string[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const action = String(input).split("/").pop() as string;
    requests.push(action);
    if (down) throw new TypeError("Failed to fetch");
    if (portal) return new Response("<html>Sign in to the hotel Wi-Fi</html>", { status: 200 });
    if (String(init?.body).length > maxPushBytes) return new Response("too large", { status: 413 });
    const body = JSON.parse(String(init?.body));
    if (action === "pull" && forbidden.has(body.id)) {
      return Response.json({ error: { code: "FORBIDDEN" } }, { status: 403 });
    }
    if (body.protocol !== 1) return Response.json({ error: { code: "UNSUPPORTED_PROTOCOL" } }, { status: 400 });
    if (action === "pull") {
      const stream = `account-${body.id}`;
      const events = await store.read(stream, { from: body.after + 1, limit: body.limit });
      return Response.json({ protocol: 1, events, version: await store.version(stream) });
    }
    const results = [];
    for (const command of body.commands) {
      const reply = await node.dispatch(Message.parse(command));
      const status = reply.response?.status === "ok" || reply.response?.status === "created" ? "applied" : "rejected";
      results.push({ messageId: command.id, status, response: reply.response });
    }
    return Response.json({ protocol: 1, results });
  };
  return {
    store,
    node,
    fetch,
    requests,
    setDown(value: boolean) {
      down = value;
    },
    limitPushBytes(bytes: number) {
      maxPushBytes = bytes;
    },
    setPortal(value: boolean) {
      portal = value;
    },
    forbid(id: string) {
      forbidden.add(id);
    },
  };
}

let dbCount = 0;
const open: { client: OfflineClient; node: SystemNode }[] = [];
afterEach(async () => {
  for (const { client, node } of open.splice(0)) {
    await client.close();
    await node.close();
  }
});

interface TabOptions {
  fetch?: typeof fetch;
  batchSize?: number;
  backoffMs?: number;
  /** Share one database between clients (tabs): the same factory and name. */
  database?: { factory: IDBFactory; name: string };
  BroadcastChannel?: typeof BroadcastChannel;
}

async function tab(edge: ReturnType<typeof standInEdge>, options: TabOptions = {}) {
  const database = options.database ?? { factory: new fake.IDBFactory(), name: `offline-${++dbCount}` };
  const store = await openIndexedDbEventStore({ name: database.name, indexedDB: database.factory });
  const client = createOfflineClient({
    store,
    aggregates: { account },
    endpoint: { url: "https://edge.test/x3m/sync", fetch: options.fetch ?? edge.fetch },
    locks: null,
    connectivity: null,
    BroadcastChannel: options.BroadcastChannel,
    backoff: { initialMs: options.backoffMs ?? 5, maxMs: Math.max(20, options.backoffMs ?? 5) },
    batchSize: options.batchSize ?? 50,
    pullIntervalMs: 0,
  });
  const accounts = client.aggregate("account");
  const node = createNode({ announceIntervalMs: 0 });
  node.register(
    defineRouter({
      name: "offline",
      services: {
        open_account: accounts.onNew("open"),
        deposit: accounts.on("deposit"),
        withdraw: accounts.on("withdraw"),
      },
      authorize: () => true,
    }),
  );
  open.push({ client, node });
  const run = async (service: string, rawRequest: Record<string, unknown>) =>
    (await node.dispatch(Message.new(service, { rawRequest }))).response;
  const synced = async () => {
    for (let i = 0; i < 500; i++) {
      const rows = await client.outbox();
      if (rows.every((row) => row.status === "rejected") && client.status().lastError === null) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const rows = await client.outbox();
    throw new Error(
      `not synced: ${JSON.stringify(client.status())}, ${rows.length} rows: ${[...new Set(rows.map((row) => row.status))]}`,
    );
  };
  return { client, node, run, synced, accounts };
}

describe("offline client (fake-indexeddb, stand-in edge)", () => {
  it("answers offline commands locally, keeps them tentative, and confirms them after sync", async () => {
    const edge = standInEdge();
    const { client, run, synced, accounts } = await tab(edge);
    client.setOnline(false);
    expect(await run("open_account", { id: "a1", owner: "Ada" })).toEqual({ status: "created", id: "a1", version: 0 });
    expect(await run("deposit", { id: "a1", amount: 5 })).toEqual({ status: "ok", version: 1 });
    expect(await accounts.view("a1")).toMatchObject({ state: { balance: 5 }, confirmedVersion: -1, version: 1 });
    expect(edge.requests).not.toContain("push"); // offline: nothing sent
    client.setOnline(true);
    await synced();
    expect(await accounts.view("a1")).toMatchObject({
      state: { balance: 5 },
      confirmedVersion: 1,
      version: 1,
      tentative: [],
    });
    expect((await edge.store.read("account-a1")).map((e) => e.data)).toEqual([
      { type: "AccountOpened", id: "a1", owner: "Ada" },
      { type: "Deposited", amount: 5 },
    ]);
  });

  it("a locally invalid command is answered and never queued", async () => {
    const edge = standInEdge();
    const { client, run } = await tab(edge);
    client.setOnline(false);
    await run("open_account", { id: "a1", owner: "Ada" });
    expect(await run("deposit", { id: "a1", amount: -3 })).toMatchObject({ status: "validation_error" });
    expect(await run("deposit", { id: "nobody", amount: 3 })).toEqual({ status: "not_found" });
    expect((await client.outbox()).map((row) => row.command.serviceName)).toEqual(["open_account"]);
  });

  it("a re-dispatched command (same message id) is answered as before, not queued twice", async () => {
    const edge = standInEdge();
    const { client, node } = await tab(edge);
    client.setOnline(false);
    await node.dispatch(Message.new("open_account", { rawRequest: { id: "a1", owner: "Ada" } }));
    const deposit = Message.new("deposit", { rawRequest: { id: "a1", amount: 5 } });
    const first = await node.dispatch(deposit);
    const again = await node.dispatch(deposit);
    expect(again.response).toEqual(first.response);
    expect(await client.outbox()).toHaveLength(2);
  });

  it("responses lost and requests duplicated by the network: every command applies exactly once, in order", async () => {
    const edge = standInEdge();
    const random = seededRandom(42);
    let dropped = 0;
    let duplicated = 0;
    const faulty: typeof fetch = async (input, init) => {
      const roll = random();
      if (roll < 0.3) {
        duplicated++;
        const [first] = await Promise.all([edge.fetch(input, init), edge.fetch(input, init)]);
        return first;
      }
      if (roll < 0.6) {
        dropped++;
        await edge.fetch(input, init);
        throw new TypeError("response lost");
      }
      return edge.fetch(input, init);
    };
    const { client, run, synced, accounts } = await tab(edge, { fetch: faulty, batchSize: 4 });
    client.setOnline(false);
    await run("open_account", { id: "a1", owner: "Ada" });
    for (let amount = 1; amount <= 40; amount++) await run("deposit", { id: "a1", amount });
    client.setOnline(true);
    await synced();
    const amounts = (await edge.store.read("account-a1"))
      .map((e) => e.data as { type: string; amount?: number })
      .filter((e) => e.type === "Deposited")
      .map((e) => e.amount);
    expect(amounts).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(await accounts.view("a1")).toMatchObject({ state: { balance: 820 }, confirmedVersion: 40, tentative: [] });
    expect(dropped).toBeGreaterThan(0);
    expect(duplicated).toBeGreaterThan(0);
  });

  it("a command the edge rejects is reported once, stays listed until acknowledged, and the queue moves on", async () => {
    const edge = standInEdge();
    const { client, run, synced, accounts } = await tab(edge);
    await run("open_account", { id: "a1", owner: "Ada" });
    await run("open_account", { id: "a2", owner: "Bob" });
    await synced();
    client.setOnline(false);
    await run("deposit", { id: "a1", amount: 5 });
    await run("deposit", { id: "a2", amount: 9 });
    await edge.node.dispatch(Message.new("close_account", { rawRequest: { id: "a1" } }));
    const reported: string[] = [];
    client.onRejected((row) => reported.push(`${row.command.serviceName}:${row.aggregateId}:${row.response?.status}`));
    client.setOnline(true);
    await synced();
    expect(reported).toEqual(["deposit:a1:validation_error"]);
    expect(await accounts.view("a2")).toMatchObject({ state: { balance: 9 }, tentative: [] });
    expect(await accounts.view("a1")).toMatchObject({ state: { closed: true }, tentative: [] });
    expect(client.status()).toMatchObject({ pending: 0, rejected: 1 });
    const [rejected] = await client.outbox();
    await client.acknowledge(rejected?.messageId as string);
    expect(await client.outbox()).toEqual([]);
    expect(client.status().rejected).toBe(0);
  });

  it("an unreachable edge is retried, and the queue survives until it answers", async () => {
    const edge = standInEdge();
    edge.setDown(true);
    const { client, run, synced } = await tab(edge);
    await run("open_account", { id: "a1", owner: "Ada" });
    for (let i = 0; i < 100 && edge.requests.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(edge.requests.length).toBeGreaterThanOrEqual(3);
    expect(client.status()).toMatchObject({ pending: 1 });
    expect(client.status().lastError).toContain("sync push failed");
    edge.setDown(false);
    await synced();
    expect(await edge.store.version("account-a1")).toBe(0);
  });

  it("while backing off, new commands wait for the retry instead of each calling the failing edge", async () => {
    const edge = standInEdge();
    edge.setDown(true);
    const { client, run } = await tab(edge, { backoffMs: 60_000 });
    await run("open_account", { id: "a1", owner: "Ada" });
    for (let i = 0; i < 100 && client.status().lastError === null; i++) await new Promise((r) => setTimeout(r, 5));
    const before = edge.requests.length;
    for (let amount = 1; amount <= 10; amount++) await run("deposit", { id: "a1", amount });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(edge.requests.length).toBe(before);
    expect(client.status()).toMatchObject({ pending: 11 });
  });

  it("an aggregate whose pull is refused does not keep the others from syncing", async () => {
    const edge = standInEdge();
    const { client, run, accounts } = await tab(edge);
    await run("open_account", { id: "mine", owner: "Ada" });
    await run("open_account", { id: "theirs", owner: "Bob" });
    edge.forbid("theirs");
    client.setOnline(false);
    await run("deposit", { id: "mine", amount: 4 });
    await run("deposit", { id: "theirs", amount: 1 });
    client.setOnline(true);
    // Until the round ended: "mine" is confirmed during it, the refused pull is recorded at its end.
    for (let i = 0; i < 200; i++) {
      if ((await accounts.view("mine")).confirmedVersion === 1 && client.status().lastError !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await accounts.view("mine")).toMatchObject({ state: { balance: 4 }, confirmedVersion: 1, tentative: [] });
    // "theirs" was applied but its pull is refused: it stays queued (applied), so it stays tracked.
    const left = (await client.outbox()).map((row) => `${row.aggregateId}:${row.status}`);
    expect(new Set(left)).toEqual(new Set(["theirs:applied"]));
    expect(client.status().lastError).toContain("refused (403)");
  });

  it("an answer that is not the edge's (a captive portal's page) is retried, not treated as final", async () => {
    const edge = standInEdge();
    edge.setPortal(true);
    const { client, run, synced } = await tab(edge);
    await run("open_account", { id: "a1", owner: "Ada" });
    for (let i = 0; i < 100 && edge.requests.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(client.status().lastError).toContain("unreadable answer");
    edge.setPortal(false);
    await synced();
    expect(await edge.store.version("account-a1")).toBe(0);
  });

  it("the offline switch is shared by the tabs of one database", async () => {
    const edge = standInEdge();
    const database = { factory: new fake.IDBFactory(), name: `shared-${++dbCount}` };
    const first = await tab(edge, { database, BroadcastChannel });
    const second = await tab(edge, { database, BroadcastChannel });
    second.client.setOnline(false);
    for (let i = 0; i < 200 && first.client.status().online; i++) await new Promise((r) => setTimeout(r, 5));
    expect(first.client.status().online).toBe(false);
    second.client.setOnline("auto");
    for (let i = 0; i < 200 && !first.client.status().online; i++) await new Promise((r) => setTimeout(r, 5));
    expect(first.client.status().online).toBe(true);
  });

  it("a batch over the edge's size limit is halved until it fits; a command too large alone is refused locally and the queue moves on", async () => {
    const edge = standInEdge();
    const { client, run, synced } = await tab(edge, { batchSize: 8 });
    client.setOnline(false);
    await run("open_account", { id: "a1", owner: "Ada" });
    for (let amount = 1; amount <= 7; amount++) await run("deposit", { id: "a1", amount });
    await run("deposit", { id: "a1", amount: 100, note: "x".repeat(5_000) });
    await run("deposit", { id: "a1", amount: 1_000 });
    edge.limitPushBytes(3_000); // about three small commands per request
    const reported: string[] = [];
    client.onRejected((row) => reported.push(String(row.command.rawRequest.amount)));
    client.setOnline(true);
    await synced();
    const amounts = (await edge.store.read("account-a1"))
      .map((e) => e.data as { type: string; amount?: number })
      .filter((e) => e.type === "Deposited")
      .map((e) => e.amount);
    expect(amounts).toEqual([1, 2, 3, 4, 5, 6, 7, 1_000]);
    expect(reported).toEqual(["100"]);
    expect(edge.requests.filter((action) => action === "push").length).toBeGreaterThan(3);
  });
});
