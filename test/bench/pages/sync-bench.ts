// Runs inside a Chromium page for test/bench/sync.ts: offline commands queued in IndexedDB, then synced
// to the local edge Worker (proxied at /edge), next to the same commands pushed raw to the edge.
import { createOfflineClient, openIndexedDbEventStore } from "../../../adapters/indexeddb/index.ts";
import { createNode, defineRouter, Message } from "../../../src/index.ts";
import { account } from "../../fixtures/account.ts";

const TOKEN = { authorization: "Bearer playground", "content-type": "application/json" };

async function settle(check: () => Promise<boolean>) {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 5));
}

const scenarios = {
  /** Queues `n` deposits offline, then times the sync that pushes and confirms them all. */
  async offlineThenSync({ n, batchSize }: { n: number; batchSize: number }) {
    const store = await openIndexedDbEventStore({ name: `bench-${crypto.randomUUID()}` });
    const offline = createOfflineClient({
      store,
      aggregates: { account },
      endpoint: { url: "/edge/x3m/sync", headers: () => TOKEN },
      batchSize,
      pullIntervalMs: 0,
    });
    const accounts = offline.aggregate("account");
    const node = createNode({ announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: "bench",
        services: { open_account: accounts.onNew("open"), deposit: accounts.on("deposit") },
        authorize: () => true,
      }),
    );
    const id = `bench-${crypto.randomUUID()}`;
    await node.dispatch(Message.new("open_account", { rawRequest: { id, owner: "Ada" } }));
    await settle(async () => (await offline.outbox()).length === 0);
    offline.setOnline(false);
    const queuedAt = performance.now();
    for (let i = 0; i < n; i++) await node.dispatch(Message.new("deposit", { rawRequest: { id, amount: 1 } }));
    const syncAt = performance.now();
    offline.setOnline(true);
    await settle(async () => (await offline.outbox()).length === 0);
    const doneAt = performance.now();
    const view = await accounts.view(id);
    await offline.close();
    return {
      queueMs: syncAt - queuedAt,
      syncMs: doneAt - syncAt,
      balance: (view.state as { balance: number }).balance,
    };
  },

  /** The same deposits pushed straight to the edge's sync endpoint, batch after batch (no client). */
  async rawPush({ n, batchSize }: { n: number; batchSize: number }) {
    const id = `raw-${crypto.randomUUID()}`;
    const post = (path: string, body: unknown) =>
      fetch(`/edge/x3m/sync/${path}`, {
        method: "POST",
        headers: TOKEN,
        body: JSON.stringify({ protocol: 1, ...(body as object) }),
      });
    await post("push", { commands: [Message.new("open_account", { rawRequest: { id, owner: "Ada" } }).toJSON()] });
    const commands = Array.from({ length: n }, () =>
      Message.new("deposit", { rawRequest: { id, amount: 1 } }).toJSON(),
    );
    const started = performance.now();
    for (let i = 0; i < n; i += batchSize) await post("push", { commands: commands.slice(i, i + batchSize) });
    const pushed = performance.now();
    await post("pull", { aggregate: "account", id, after: -1, limit: 1000 });
    return { syncMs: performance.now() - started, pushMs: pushed - started };
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
