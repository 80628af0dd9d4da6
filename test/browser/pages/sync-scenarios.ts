// Browser-side scenarios for sync.test.ts: each page is a tab with its own node, the shared IndexedDB
// database, and the offline client syncing to the local edge Worker (proxied at /edge).
import { createOfflineClient, type OfflineClient, openIndexedDbEventStore } from "../../../adapters/indexeddb/index.ts";
import { createNode, defineRouter, Message, type SystemNode } from "../../../src/index.ts";
import { seededRandom } from "../../../src/testing/index.ts";
import { account } from "../../fixtures/account.ts";

const TOKEN = { authorization: "Bearer playground" };
let offline: OfflineClient | undefined;
let node: SystemNode | undefined;
const rejected: unknown[] = [];
const network = { pushes: 0, droppedResponses: 0, duplicatedRequests: 0 };

/** A network that loses push responses and sends push requests twice, decided by a seeded random. */
function faultyFetch(seed: number): typeof fetch {
  const random = seededRandom(seed);
  return async (input, init) => {
    const isPush = String(input).endsWith("/push");
    if (!isPush) return fetch(input, init);
    network.pushes++;
    const roll = random();
    if (roll < 0.25) {
      network.duplicatedRequests++;
      const [first] = await Promise.all([fetch(input, init), fetch(input, init)]);
      return first;
    }
    if (roll < 0.5) {
      network.droppedResponses++;
      await fetch(input, init); // the edge did the work; the answer never arrives
      throw new TypeError("Failed to fetch (response lost)");
    }
    return fetch(input, init);
  };
}

const client = () => {
  if (!offline) throw new Error("call setup first");
  return offline;
};

const scenarios = {
  async setup({
    db,
    tab,
    faultySeed,
    batchSize,
  }: {
    db: string;
    tab: string;
    faultySeed?: number;
    batchSize?: number;
  }) {
    const store = await openIndexedDbEventStore({ name: db });
    offline = createOfflineClient({
      store,
      aggregates: { account },
      endpoint: {
        url: "/edge/x3m/sync",
        headers: () => TOKEN,
        ...(faultySeed === undefined ? {} : { fetch: faultyFetch(faultySeed) }),
      },
      tabId: tab,
      ...(batchSize === undefined ? {} : { batchSize }),
      backoff: { initialMs: 50, maxMs: 400 },
      pullIntervalMs: 0,
    });
    offline.onRejected((row) => rejected.push({ service: row.command.serviceName, response: row.response }));
    const accounts = offline.aggregate("account");
    node = createNode({ id: tab });
    node.register(
      defineRouter({
        name: "offline-accounts",
        services: {
          open_account: accounts.onNew("open"),
          deposit: accounts.on("deposit"),
          withdraw: accounts.on("withdraw"),
        },
        authorize: () => true,
      }),
    );
    return tab;
  },

  setOnline: (online: boolean | "auto") => client().setOnline(online),

  async run({ service, rawRequest }: { service: string; rawRequest: Record<string, unknown> }) {
    const reply = await (node as SystemNode).dispatch(Message.new(service, { rawRequest }));
    return reply.response;
  },

  /** Deposits `amounts` one after another; answers the local responses' statuses. */
  async deposits({ id, amounts }: { id: string; amounts: number[] }) {
    const statuses: string[] = [];
    for (const amount of amounts) {
      const reply = await (node as SystemNode).dispatch(Message.new("deposit", { rawRequest: { id, amount } }));
      statuses.push(reply.response?.status ?? "none");
    }
    return statuses;
  },

  track: ({ id }: { id: string }) => client().track("account", id),

  async view({ id }: { id: string }) {
    const view = await client().aggregate("account").view(id);
    return {
      state: view.state,
      version: view.version,
      confirmedVersion: view.confirmedVersion,
      tentative: view.tentative.length,
    };
  },

  status: () => client().status(),
  syncNow: () => client().syncNow(),
  outbox: async () =>
    (await client().outbox()).map((row) => ({ status: row.status, service: row.command.serviceName })),
  rejected: () => rejected,
  network: () => network,

  /** Reads the edge's confirmed stream directly (the test's independent check). */
  async edgeEvents({ id }: { id: string }) {
    const reply = await fetch("/edge/x3m/sync/pull", {
      method: "POST",
      headers: { "content-type": "application/json", ...TOKEN },
      body: JSON.stringify({ protocol: 1, aggregate: "account", id, after: -1, limit: 1000 }),
    });
    return (await reply.json()) as { events: { data: unknown; metadata: { messageId?: string } }[]; version: number };
  },

  /** Closes the account on the edge directly (as another device would), bypassing this tab's queue. */
  async closeOnEdge({ id }: { id: string }) {
    const reply = await fetch("/edge/x3m/dispatch", {
      method: "POST",
      headers: { "content-type": "application/json", ...TOKEN },
      body: JSON.stringify(Message.new("close_account", { rawRequest: { id } }).toJSON()),
    });
    return reply.status;
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
