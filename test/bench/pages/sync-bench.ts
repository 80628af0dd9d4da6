// Runs inside a Chromium page for test/bench/sync.ts: the offline client's local command path, its sync to
// the local edge Worker (proxied at /edge), and catch-up pulls, each next to a raw baseline in the same page.
import { createOfflineClient, openIndexedDbEventStore } from "../../../adapters/indexeddb/index.ts";
import {
  type ChangesReply,
  createNode,
  defineRouter,
  Message,
  type PushResult,
  SYNC_PROTOCOL_VERSION,
} from "../../../src/index.ts";
import { account } from "../../fixtures/account.ts";

const TOKEN = { authorization: "Bearer playground", "content-type": "application/json" };

async function settle(check: () => boolean | Promise<boolean>, everyMs = 5) {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, everyMs));
}

const post = async <T>(path: string, body: object): Promise<T> => {
  const reply = await fetch(`/edge/x3m/sync/${path}`, {
    method: "POST",
    headers: TOKEN,
    body: JSON.stringify({ protocol: SYNC_PROTOCOL_VERSION, ...body }),
  });
  if (!reply.ok) throw new Error(`${path}: ${reply.status} ${await reply.text()}`);
  return (await reply.json()) as T;
};

/** Another client's raw commands: a random id and contiguous sequences per aggregate. */
function rawClient() {
  const clientId = `bench-${crypto.randomUUID()}`;
  const seqs = new Map<string, number>();
  const command = (service: string, rawRequest: { id: string } & Record<string, unknown>) => {
    const seq = (seqs.get(rawRequest.id) ?? 0) + 1;
    seqs.set(rawRequest.id, seq);
    const message = Message.new(service, { rawRequest });
    return { aggregate: "account", aggregateId: rawRequest.id, seq, messageId: message.id, command: message.toJSON() };
  };
  const push = async (commands: ReturnType<typeof command>[]) => {
    const { results } = await post<{ results: PushResult[] }>("push", { clientId, commands });
    if (!results.every((result) => result.status === "applied")) throw new Error("raw push: not all applied");
  };
  return { clientId, command, push };
}

async function offlineClient(batchSize = 200) {
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
  const run = (service: string, rawRequest: Record<string, unknown>) =>
    node.dispatch(Message.new(service, { rawRequest }));
  // Cheap to poll (the client's own status, refreshed from IndexedDB counts): the bench must not load the
  // database it measures.
  const drained = () => settle(async () => offline.status().pending === 0 && !offline.status().syncing);
  return { offline, accounts, run, drained, store };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
};

const scenarios = {
  /**
   * The latency of one local command (run, queue, answer) with `pending` commands already queued on the
   * same aggregate, p50 and p95 of `samples` commands; next to a raw IndexedDB put of one row of the same
   * size in its own transaction.
   */
  async localCommand({ pending, samples }: { pending: number; samples: number }) {
    const { offline, run } = await offlineClient();
    const id = `local-${crypto.randomUUID()}`;
    offline.setOnline(false);
    await run("open_account", { id, owner: "Ada" });
    for (let i = 0; i < pending; i++) await run("deposit", { id, amount: 1 });
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      const reply = await run("deposit", { id, amount: 1 });
      times.push(performance.now() - started);
      if (reply.response?.status !== "ok") throw new Error(`local command failed: ${JSON.stringify(reply.response)}`);
    }
    const raw: number[] = [];
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(`raw-${crypto.randomUUID()}`, 1);
      request.onupgradeneeded = () => request.result.createObjectStore("rows", { autoIncrement: true });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const row = (await offline.outbox()).at(-1);
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction("rows", "readwrite");
        tx.objectStore("rows").add(row);
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
      raw.push(performance.now() - started);
    }
    db.close();
    await offline.close();
    return { p50: percentile(times, 0.5), p95: percentile(times, 0.95), rawP50: percentile(raw, 0.5) };
  },

  /** Queues `n` deposits offline (on `accounts` accounts), then times the sync that pushes and confirms them. */
  async clientSync({ n, accounts: spread }: { n: number; accounts: number }) {
    const { offline, accounts, run, drained } = await offlineClient();
    const ids = Array.from({ length: spread }, () => `sync-${crypto.randomUUID()}`);
    for (const id of ids) await run("open_account", { id, owner: "Ada" });
    await drained();
    offline.setOnline(false);
    for (let i = 0; i < n; i++) await run("deposit", { id: ids[i % spread], amount: 1 });
    const started = performance.now();
    offline.setOnline(true);
    await drained();
    // Exactly once, checked: every account's confirmed balance is what was deposited, nothing tentative left.
    await settle(async () => {
      for (const id of ids) {
        const view = await accounts.view(id);
        if (view.tentative.length > 0 || view.confirmedVersion !== Math.ceil(n / spread)) return false;
      }
      return true;
    }, 20);
    const ms = performance.now() - started;
    let total = 0;
    for (const id of ids) total += (await accounts.view(id)).state.balance;
    await offline.close();
    if (total !== n) throw new Error(`sync bench: balance ${total}, expected ${n} (not exactly once)`);
    return { ms };
  },

  /** The same deposits pushed raw to the edge's sync endpoint in batches (no client, no IndexedDB). */
  async rawPush({ n, batchSize, accounts: spread }: { n: number; batchSize: number; accounts: number }) {
    const client = rawClient();
    const ids = Array.from({ length: spread }, () => `raw-${crypto.randomUUID()}`);
    await client.push(ids.map((id) => client.command("open_account", { id, owner: "Ada" })));
    const commands = Array.from({ length: n }, (_, i) =>
      client.command("deposit", { id: ids[i % spread] as string, amount: 1 }),
    );
    const started = performance.now();
    for (let i = 0; i < n; i += batchSize) await client.push(commands.slice(i, i + batchSize));
    return { ms: performance.now() - started };
  },

  /** Makes `aggregates` accounts of `events` events each on the edge (another client); answers their ids. */
  async seedAccounts({ aggregates, events }: { aggregates: number; events: number }) {
    const client = rawClient();
    const ids = Array.from({ length: aggregates }, () => `catchup-${crypto.randomUUID()}`);
    const commands = ids.flatMap((id) => [
      client.command("open_account", { id, owner: "Ada" }),
      ...Array.from({ length: events - 1 }, () => client.command("deposit", { id, amount: 1 })),
    ]);
    for (let i = 0; i < commands.length; i += 500) await client.push(commands.slice(i, i + 500));
    return ids;
  },

  /** A fresh client tracking `ids` catches up: its sync round until every account is confirmed in IndexedDB. */
  async catchUp({ ids, events }: { ids: string[]; events: number }) {
    const { offline, accounts } = await offlineClient();
    offline.setOnline(false);
    for (const id of ids) await offline.track("account", id);
    const started = performance.now();
    offline.setOnline(true);
    await settle(async () => {
      for (const id of ids) if ((await accounts.view(id)).confirmedVersion !== events - 1) return false;
      return true;
    }, 20);
    const ms = performance.now() - started;
    await offline.close();
    return { ms };
  },

  /** The same catch-up, raw (no IndexedDB): one changes request with every cursor, repeated while `more`. */
  async rawChanges({ ids }: { ids: string[] }) {
    const clientId = `reader-${crypto.randomUUID()}`;
    const after = new Map(ids.map((id) => [id, -1]));
    const started = performance.now();
    let requests = 0;
    for (let more = true; more; ) {
      const reply = await post<ChangesReply>("changes", {
        clientId,
        cursors: ids.map((id) => ({ aggregate: "account", id, after: after.get(id) })),
        limit: 5_000,
      });
      requests++;
      for (const change of reply.changes)
        after.set(change.id, change.events.at(-1)?.version ?? after.get(change.id) ?? -1);
      more = reply.more;
    }
    return { ms: performance.now() - started, requests };
  },

  /** Today's shape before protocol 2: one pull request per aggregate, one after the other (raw, no IndexedDB). */
  async perAggregatePulls({ ids }: { ids: string[] }) {
    const clientId = `reader-${crypto.randomUUID()}`;
    const started = performance.now();
    let requests = 0;
    for (const id of ids) {
      let from = -1;
      for (let more = true; more; ) {
        const reply = await post<ChangesReply>("changes", {
          clientId,
          cursors: [{ aggregate: "account", id, after: from }],
        });
        requests++;
        const change = reply.changes[0];
        from = change?.events.at(-1)?.version ?? from;
        more = change !== undefined && change.seq === undefined;
      }
    }
    return { ms: performance.now() - started, requests };
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
