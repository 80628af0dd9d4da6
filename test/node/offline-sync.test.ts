// The offline client on fake-indexeddb against a stand-in edge that is the core's own sync server on a
// memory aggregate host (the same protocol module and server the Durable Objects endpoint runs). Fast
// checks of the client's rules; the real edge Worker and real IndexedDB are exercised in Chromium by
// test/browser/sync.test.ts.
import * as fake from "fake-indexeddb";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createOfflineClient, openIndexedDbEventStore } from "../../adapters/indexeddb/index.ts";
import {
  admitClientMessage,
  changesRequestSchema,
  createAggregateHost,
  createMemoryEventStore,
  createNode,
  defineRouter,
  Message,
  pushRequestSchema,
  runChanges,
  runPush,
  SYNC_PROTOCOL_VERSION,
  type SystemNode,
} from "../../src/index.ts";
import { seededRandom } from "../../src/testing/index.ts";
import { account } from "../fixtures/account.ts";
import { useFakeIndexedDbGlobals } from "./fake-indexeddb.ts";

useFakeIndexedDbGlobals();

/** The edge's sync endpoint in miniature: the core's sync server over a memory host, behind `fetch`. */
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
      authorize: (msg) => msg.assigns.principal !== undefined,
    }),
  );
  let down = false;
  let portal = false;
  let maxPushBytes = Number.POSITIVE_INFINITY;
  let pushesFail = false;
  const forbidden = new Set<string>();
  const requests: string[] = [];
  const context = {
    aggregate: (name: string) => (name === "account" ? host.sync : undefined),
    lookup: (service: string) => node.registry.localService(service),
    admit: (envelope: unknown) => admitClientMessage(envelope, { principal: { user: "ada" }, trustedAssigns: [] }),
    authorizePull: (_aggregate: string, id: string) => !forbidden.has(id),
  };
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const action = String(input).split("/").pop() as string;
    requests.push(action);
    if (down) throw new TypeError("Failed to fetch");
    if (portal) return new Response("<html>Sign in to the hotel Wi-Fi</html>", { status: 200 });
    if (String(init?.body).length > maxPushBytes) return new Response("too large", { status: 413 });
    if (action === "push" && pushesFail) return new Response("maintenance", { status: 503 });
    const body = JSON.parse(String(init?.body));
    if (body.protocol !== SYNC_PROTOCOL_VERSION) {
      return Response.json({ error: { code: "UNSUPPORTED_PROTOCOL" } }, { status: 400 });
    }
    if (action === "push") return Response.json(await runPush(pushRequestSchema.parse(body), context));
    return Response.json(await runChanges(changesRequestSchema.parse(body), context));
  };
  return {
    store,
    node,
    fetch,
    requests,
    /** A command made directly on the edge (another user, the edge's own services). */
    dispatch: (service: string, rawRequest: Record<string, unknown>) =>
      node.dispatch(Message.new(service, { rawRequest }).assign("principal", { user: "bob" })),
    setDown(value: boolean) {
      down = value;
    },
    failPushes(value: boolean) {
      pushesFail = value;
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

type Edge = ReturnType<typeof standInEdge>;

let dbCount = 0;
const open: { client: { close(): Promise<void> }; node: SystemNode }[] = [];
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

const until = async (condition: () => boolean | Promise<boolean>, what: string) => {
  for (let i = 0; i < 1_000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
};

async function tab(edge: Edge, options: TabOptions = {}) {
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
    // Synced: nothing waits for the edge, and the round that got there ended well.
    await until(
      async () => {
        const rows = await client.outbox();
        return (
          rows.every((row) => row.status === "rejected") &&
          client.status().lastError === null &&
          !client.status().syncing
        );
      },
      `a sync (${JSON.stringify(client.status())})`,
    );
  };
  return { client, node, run, synced, accounts, store };
}

const deposits = async (edge: Edge, id: string) =>
  (await edge.store.read(`account-${id}`))
    .map((e) => e.data as { type: string; amount?: number })
    .filter((e) => e.type === "Deposited")
    .map((e) => e.amount);

describe("offline client (fake-indexeddb, the core's sync server)", () => {
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

  it("gives each queued command the next number of this database's client on its aggregate", async () => {
    const edge = standInEdge();
    const database = { factory: new fake.IDBFactory(), name: `seq-${++dbCount}` };
    const first = await tab(edge, { database });
    const second = await tab(edge, { database });
    first.client.setOnline(false);
    await first.run("open_account", { id: "a1", owner: "Ada" });
    await second.run("deposit", { id: "a1", amount: 1 });
    await first.run("open_account", { id: "a2", owner: "Ada" });
    await first.run("deposit", { id: "a1", amount: 2 });
    const rows = await first.client.outbox();
    expect(rows.map((row) => [row.aggregateId, row.clientSeq])).toEqual([
      ["a1", 1],
      ["a1", 2],
      ["a2", 1],
      ["a1", 3],
    ]);
    const ids = new Set([await first.client.clientId(), await second.client.clientId()]);
    expect(ids.size).toBe(1); // one client per database, whichever tab asks
    const other = await tab(edge);
    expect(await other.client.clientId()).not.toBe(await first.client.clientId());
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

  it("a re-dispatched command (same message id) is answered as before, not queued twice, also after a reload", async () => {
    const edge = standInEdge();
    const database = { factory: new fake.IDBFactory(), name: `again-${++dbCount}` };
    const { client, node } = await tab(edge, { database });
    client.setOnline(false);
    await node.dispatch(Message.new("open_account", { rawRequest: { id: "a1", owner: "Ada" } }));
    const deposit = Message.new("deposit", { rawRequest: { id: "a1", amount: 5 } });
    const refused = Message.new("deposit", { rawRequest: { id: "a1", amount: -5 } });
    const first = await node.dispatch(deposit);
    const firstRefusal = await node.dispatch(refused);
    expect((await node.dispatch(deposit)).response).toEqual(first.response);
    const reloaded = await tab(edge, { database });
    expect((await reloaded.node.dispatch(deposit)).response).toEqual(first.response);
    expect((await reloaded.node.dispatch(refused)).response).toEqual(firstRefusal.response);
    expect(await reloaded.client.outbox()).toHaveLength(2);
  });

  it("a network that drops responses, duplicates and delays requests: every command applies exactly once, in order", async () => {
    const edge = standInEdge();
    const random = seededRandom(42);
    const faults = { dropped: 0, duplicated: 0, delayed: 0 };
    const faulty: typeof fetch = async (input, init) => {
      const roll = random();
      if (roll < 0.25) {
        faults.duplicated++;
        const [first] = await Promise.all([edge.fetch(input, init), edge.fetch(input, init)]);
        return first;
      }
      if (roll < 0.5) {
        faults.dropped++;
        await edge.fetch(input, init);
        throw new TypeError("response lost");
      }
      if (roll < 0.7) {
        faults.delayed++;
        await new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(random() * 10)));
      }
      return edge.fetch(input, init);
    };
    const { client, run, synced, accounts } = await tab(edge, { fetch: faulty, batchSize: 4 });
    client.setOnline(false);
    await run("open_account", { id: "a1", owner: "Ada" });
    for (let amount = 1; amount <= 40; amount++) await run("deposit", { id: "a1", amount });
    client.setOnline(true);
    await synced();
    expect(await deposits(edge, "a1")).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(await accounts.view("a1")).toMatchObject({ state: { balance: 820 }, confirmedVersion: 40, tentative: [] });
    expect(faults.dropped).toBeGreaterThan(0);
    expect(faults.duplicated).toBeGreaterThan(0);
    expect(faults.delayed).toBeGreaterThan(0);
  });

  it("a rejection in the middle of the queue: reported once, later commands rebased and applied", async () => {
    const edge = standInEdge();
    const { client, run, synced, accounts } = await tab(edge);
    await run("open_account", { id: "a1", owner: "Ada" });
    await run("open_account", { id: "a2", owner: "Bob" });
    await synced();
    client.setOnline(false);
    await run("deposit", { id: "a1", amount: 5 });
    await run("deposit", { id: "a2", amount: 9 });
    await run("withdraw", { id: "a1", amount: 3 });
    await edge.dispatch("close_account", { id: "a1" }); // the edge closes a1 meanwhile
    const reported: string[] = [];
    client.onRejected((row) => reported.push(`${row.command.serviceName}:${row.aggregateId}:${row.response?.status}`));
    client.setOnline(true);
    await synced();
    await until(() => reported.length >= 2, "both rejection reports");
    // The deposit is refused (closed account); the withdraw behind it ran on the edge's state (balance 0).
    expect(reported).toEqual(["deposit:a1:validation_error", "withdraw:a1:error"]);
    expect(await accounts.view("a2")).toMatchObject({ state: { balance: 9 }, tentative: [] });
    expect(await accounts.view("a1")).toMatchObject({ state: { closed: true, balance: 0 }, tentative: [] });
    expect(client.status()).toMatchObject({ pending: 0, rejected: 2 });
    for (const row of await client.outbox()) await client.acknowledge(row.messageId);
    expect(await client.outbox()).toEqual([]);
    expect(client.status().rejected).toBe(0);
    expect(reported).toHaveLength(2); // reported once each, through every refresh since
  });

  it("pending commands are run again when the confirmed state moves: the view and the conflicts count follow", async () => {
    const edge = standInEdge();
    const { client, run, synced, accounts } = await tab(edge);
    await run("open_account", { id: "a1", owner: "Ada" });
    await run("deposit", { id: "a1", amount: 10 });
    await synced();
    client.setOnline(false);
    expect(await run("withdraw", { id: "a1", amount: 8 })).toEqual({ status: "ok", version: 2 });
    await edge.dispatch("withdraw", { id: "a1", amount: 5 }); // someone else withdrew meanwhile
    // Only pull (pushes fail for now): the rebase runs on the new confirmed state.
    edge.failPushes(true);
    client.setOnline(true);
    await until(async () => (await accounts.view("a1")).confirmedVersion === 2, "the pull");
    await until(() => client.status().conflicts === 1, "the conflict count");
    const view = await accounts.view("a1");
    expect(view.state.balance).toBe(5); // confirmed 10 - 5; the pending withdraw of 8 no longer fits
    expect(view.tentative).toEqual([{ type: "WithdrawalRejected", amount: 8 }]);
    expect(view.commands[0]?.localFailure).toEqual({ status: "error", reason: "insufficient_funds" });
  });

  it("asks for every tracked aggregate's changes in one request per round", async () => {
    const edge = standInEdge();
    const { client, run, synced } = await tab(edge);
    for (let i = 0; i < 20; i++) await run("open_account", { id: `a${i}`, owner: "Ada" });
    await synced();
    for (let i = 0; i < 20; i++) await edge.dispatch("deposit", { id: `a${i}`, amount: i });
    edge.requests.length = 0;
    await client.syncNow();
    expect(edge.requests).toEqual(["changes"]);
  });

  it("two tabs writing the same aggregate offline stay consistent (the stream's stamp)", async () => {
    const edge = standInEdge();
    const database = { factory: new fake.IDBFactory(), name: `stamp-${++dbCount}` };
    const first = await tab(edge, { database });
    const second = await tab(edge, { database });
    first.client.setOnline(false);
    await first.run("open_account", { id: "a1", owner: "Ada" });
    const versions: unknown[] = [];
    for (let amount = 1; amount <= 10; amount++) {
      const writer = amount % 2 === 0 ? first : second;
      versions.push(await writer.run("deposit", { id: "a1", amount }));
    }
    expect(versions).toEqual(Array.from({ length: 10 }, (_, i) => ({ status: "ok", version: i + 1 })));
    expect((await second.accounts.view("a1")).state.balance).toBe(55);
    expect(await second.run("withdraw", { id: "a1", amount: 55 })).toEqual({ status: "ok", version: 11 });
    expect(await first.run("withdraw", { id: "a1", amount: 1 })).toEqual({
      status: "error",
      reason: "insufficient_funds",
    });
  });

  it("an unreachable edge is retried, and the queue survives until it answers", async () => {
    const edge = standInEdge();
    edge.setDown(true);
    const { client, run, synced } = await tab(edge);
    await run("open_account", { id: "a1", owner: "Ada" });
    await until(() => edge.requests.length >= 3 && client.status().lastError !== null, "three failed attempts");
    expect(client.status()).toMatchObject({ pending: 1 });
    expect(client.status().lastError).toContain("sync push failed");
    edge.setDown(false);
    await synced();
    expect(await edge.store.version("account-a1")).toBe(0);
  });

  it("a failed round keeps the last successful round's time and says why it failed", async () => {
    const edge = standInEdge();
    const { client, run, synced } = await tab(edge);
    await run("open_account", { id: "a1", owner: "Ada" });
    await synced();
    const { lastSyncAt } = client.status();
    expect(lastSyncAt).not.toBeNull();
    edge.setDown(true);
    await run("deposit", { id: "a1", amount: 1 });
    await until(() => client.status().lastError !== null, "a failed round");
    expect(client.status()).toMatchObject({ lastSyncAt, lastError: expect.stringContaining("sync push failed") });
  });

  it("while backing off, new commands wait for the retry instead of each calling the failing edge", async () => {
    const edge = standInEdge();
    edge.setDown(true);
    const { client, run } = await tab(edge, { backoffMs: 60_000 });
    await run("open_account", { id: "a1", owner: "Ada" });
    await until(() => client.status().lastError !== null, "the first failure");
    const before = edge.requests.length;
    for (let amount = 1; amount <= 10; amount++) await run("deposit", { id: "a1", amount });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(edge.requests.length).toBe(before);
    await until(() => client.status().pending === 11, "the status refresh");
  });

  it("an aggregate whose changes are refused does not keep the others from syncing", async () => {
    const edge = standInEdge();
    const { client, run, accounts } = await tab(edge);
    await run("open_account", { id: "mine", owner: "Ada" });
    await run("open_account", { id: "theirs", owner: "Bob" });
    edge.forbid("theirs");
    client.setOnline(false);
    await run("deposit", { id: "mine", amount: 4 });
    await run("deposit", { id: "theirs", amount: 1 });
    client.setOnline(true);
    // Wait for both facts asserted: the deposit confirmed, and a round's refusal in the status (the status
    // is written when a round ends, after the view changed: waiting for the view alone raced it).
    await until(
      async () => client.status().lastError !== null && (await accounts.view("mine")).confirmedVersion === 1,
      "the refusal and the confirmed deposit",
    );
    expect(client.status().lastError).toContain("FORBIDDEN");
    expect(await accounts.view("mine")).toMatchObject({ state: { balance: 4 }, confirmedVersion: 1, tentative: [] });
    // "theirs" was applied but its changes are refused: it stays queued (applied), so it stays tracked.
    const left = (await client.outbox()).map((row) => `${row.aggregateId}:${row.status}`);
    expect(new Set(left)).toEqual(new Set(["theirs:applied"]));
  });

  it("an answer that is not the edge's (a captive portal's page) is retried, not treated as final", async () => {
    const edge = standInEdge();
    edge.setPortal(true);
    const { client, run, synced } = await tab(edge);
    await run("open_account", { id: "a1", owner: "Ada" });
    await until(() => client.status().lastError !== null, "the failed round");
    expect(client.status().lastError).toContain("unreadable answer");
    edge.setPortal(false);
    await synced();
    expect(await edge.store.version("account-a1")).toBe(0);
  });

  it("a status read that fails is read again: the pending count never stays stale, and the failure is shown meanwhile", async () => {
    const edge = standInEdge();
    const { client, run } = await tab(edge);
    client.setOnline(false);
    await run("open_account", { id: "a1", owner: "Ada" });
    await until(() => client.status().pending === 1, "the first command counted");
    // The next two status reads fail (a transient storage error); commands themselves still work.
    const count = fake.IDBIndex.prototype.count;
    let failing = 2;
    const spy = vi.spyOn(fake.IDBIndex.prototype, "count").mockImplementation(function (
      this: InstanceType<typeof fake.IDBIndex>,
      ...args: Parameters<typeof count>
    ) {
      if (args[0] === "pending" && failing > 0) {
        failing--;
        throw new DOMException("the disk hiccupped", "UnknownError");
      }
      return count.apply(this, args);
    });
    try {
      const seen: (string | null)[] = [];
      client.subscribe((status) => seen.push(status.lastError));
      expect(await run("deposit", { id: "a1", amount: 5 })).toEqual({ status: "ok", version: 1 });
      await until(() => client.status().pending === 2, "the second command counted, after the failed reads");
      expect(failing).toBe(0); // both reads failed, then reads worked again
      expect(seen).toContain("the sync status could not be read: the disk hiccupped");
      expect(client.status().lastError).toBeNull();
    } finally {
      spy.mockRestore();
    }
  });

  it("the offline switch is shared by the tabs of one database", async () => {
    const edge = standInEdge();
    const database = { factory: new fake.IDBFactory(), name: `shared-${++dbCount}` };
    const first = await tab(edge, { database, BroadcastChannel });
    const second = await tab(edge, { database, BroadcastChannel });
    second.client.setOnline(false);
    await until(() => !first.client.status().online, "the other tab going offline");
    second.client.setOnline("auto");
    await until(() => first.client.status().online, "the other tab going back online");
  });

  it("a batch over the edge's size limit is halved until it fits; a command too large alone is refused and the queue moves on", async () => {
    const edge = standInEdge();
    const { client, run, synced } = await tab(edge, { batchSize: 8 });
    client.setOnline(false);
    await run("open_account", { id: "a1", owner: "Ada" });
    for (let amount = 1; amount <= 7; amount++) await run("deposit", { id: "a1", amount });
    await run("deposit", { id: "a1", amount: 100, note: "x".repeat(5_000) });
    await run("deposit", { id: "a1", amount: 1_000 });
    edge.limitPushBytes(3_500); // about three small commands per request
    const reported: string[] = [];
    client.onRejected((row) => reported.push(String(row.command.rawRequest.amount)));
    client.setOnline(true);
    await synced();
    // The one too large gave up its place at the edge: the deposit behind it was not a sequence gap.
    expect(await deposits(edge, "a1")).toEqual([1, 2, 3, 4, 5, 6, 7, 1_000]);
    await until(() => reported.length === 1, "the report");
    expect(reported).toEqual(["100"]);
    expect(edge.requests.filter((action) => action === "push").length).toBeGreaterThan(3);
  });
});
