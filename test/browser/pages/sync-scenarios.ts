// Browser-side scenarios for sync.test.ts: each page is a tab with its own node, the shared IndexedDB
// database, and the offline client syncing to the local edge Worker (proxied at /edge).
import { createOfflineClient, type OfflineClient, openIndexedDbEventStore } from "../../../adapters/indexeddb/index.ts";
import {
  type ChangesReply,
  createNode,
  defineRouter,
  Message,
  type PushResult,
  SYNC_PROTOCOL_VERSION,
  type SystemNode,
} from "../../../src/index.ts";
import { seededRandom } from "../../../src/testing/index.ts";
import { account } from "../../fixtures/account.ts";

const TOKEN = { authorization: "Bearer playground" };
let offline: OfflineClient<{ account: typeof account }> | undefined;
let node: SystemNode | undefined;
const rejected: unknown[] = [];
const network = { requests: 0, droppedResponses: 0, duplicatedRequests: 0, reordered: 0, delayed: 0 };
/** While set, every push answer is lost on purpose: the edge does the work, the tab never hears of it. */
let losingPushAnswers = false;

interface Faults {
  readonly seed: number;
}

/**
 * A network that spoils sync requests in every way it can, decided by a seeded random: it sends a request
 * twice, loses the answer after the edge did the work, holds a request back and delivers it after newer
 * ones (the tab has already given up on it and retried: the edge sees the old copy late, out of order),
 * or delays it.
 */
function faultyFetch(faults: Faults | undefined): typeof fetch {
  const random = seededRandom(faults?.seed ?? 1);
  return async (input, init) => {
    const isPush = String(input).endsWith("/push");
    if (isPush && losingPushAnswers) {
      network.droppedResponses++;
      await fetch(input, init);
      throw new TypeError("Failed to fetch (answer lost on purpose)");
    }
    if (!faults) return fetch(input, init);
    network.requests++;
    const roll = random();
    if (roll < 0.15) {
      network.duplicatedRequests++;
      const [first] = await Promise.all([fetch(input, init), fetch(input, init)]);
      return first;
    }
    if (roll < 0.3) {
      network.droppedResponses++;
      await fetch(input, init); // the edge did the work; the answer never arrives
      throw new TypeError("Failed to fetch (response lost)");
    }
    if (roll < 0.4) {
      network.reordered++;
      const late = 20 + Math.floor(random() * 200);
      setTimeout(() => void fetch(input, init).catch(() => {}), late);
      throw new TypeError("Failed to fetch (timed out; the request is still on its way)");
    }
    if (roll < 0.55) {
      network.delayed++;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(random() * 40)));
    }
    return fetch(input, init);
  };
}

const client = () => {
  if (!offline) throw new Error("call setup first");
  return offline;
};

const post = async <T>(path: string, body: unknown): Promise<T> => {
  const reply = await fetch(`/edge${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...TOKEN },
    body: JSON.stringify(body),
  });
  return (await reply.json()) as T;
};

const scenarios = {
  async setup({
    db,
    tab,
    faults,
    batchSize,
    liveUrl,
  }: {
    db: string;
    tab: string;
    faults?: Faults;
    batchSize?: number;
    /** The edge's WebSocket endpoint: live pokes on, and the pull interval an hour (only a poke can be quick). */
    liveUrl?: string;
  }) {
    const store = await openIndexedDbEventStore({ name: db });
    offline = createOfflineClient({
      store,
      aggregates: { account },
      endpoint: { url: "/edge/x3m/sync", headers: () => TOKEN, fetch: faultyFetch(faults) },
      tabId: tab,
      ...(batchSize === undefined ? {} : { batchSize }),
      backoff: { initialMs: 20, maxMs: 200 },
      ...(liveUrl
        ? { live: { url: liveUrl, ticketUrl: "/edge/x3m/ws/ticket" }, pullIntervalMs: 3_600_000 }
        : { pullIntervalMs: 0 }),
    });
    offline.onRejected((row) =>
      rejected.push({
        service: row.command.serviceName,
        amount: row.command.rawRequest.amount,
        response: row.response,
      }),
    );
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
  losePushAnswers: (losing: boolean) => {
    losingPushAnswers = losing;
  },

  async run({ service, rawRequest }: { service: string; rawRequest: Record<string, unknown> }) {
    const reply = await (node as SystemNode).dispatch(Message.new(service, { rawRequest }));
    return reply.response;
  },

  /** Deposits `amounts` one after another; answers the local responses. */
  async deposits({ id, amounts }: { id: string; amounts: number[] }) {
    const responses: unknown[] = [];
    for (const amount of amounts) {
      const reply = await (node as SystemNode).dispatch(Message.new("deposit", { rawRequest: { id, amount } }));
      responses.push(reply.response);
    }
    return responses;
  },

  track: ({ id }: { id: string }) => client().track("account", id),

  async view({ id }: { id: string }) {
    const view = await client().aggregate("account").view(id);
    return {
      state: view.state,
      version: view.version,
      confirmedVersion: view.confirmedVersion,
      tentative: view.tentative.length,
      failing: view.commands.filter((command) => command.localFailure !== undefined).length,
    };
  },

  status: () => client().status(),
  syncNow: () => client().syncNow(),
  clientId: () => client().clientId(),
  outbox: async () =>
    (await client().outbox()).map((row) => ({
      status: row.status,
      service: row.command.serviceName,
      clientSeq: row.clientSeq,
      tab: row.tab,
    })),
  rejected: () => rejected,
  network: () => network,
  sessionStorageKeys: () => Object.keys(sessionStorage),
  copySessionStorage: (entries: Record<string, string>) => {
    for (const [key, value] of Object.entries(entries)) sessionStorage.setItem(key, value);
  },
  sessionStorage: () => Object.fromEntries(Object.entries(sessionStorage)),

  /** Reads the edge's confirmed stream directly (the test's independent check), as a client of its own. */
  async edgeEvents({ id }: { id: string }) {
    const events: { data: { type: string; amount?: number }; metadata: { messageId?: string } }[] = [];
    for (;;) {
      const reply = await post<ChangesReply>("/x3m/sync/changes", {
        protocol: SYNC_PROTOCOL_VERSION,
        clientId: `reader-${crypto.randomUUID()}`,
        cursors: [{ aggregate: "account", id, after: events.length - 1 }],
      });
      const change = reply.changes[0];
      events.push(...((change?.events ?? []) as unknown as typeof events));
      if (!change || change.seq !== undefined) return { events, version: change?.version ?? events.length - 1 };
    }
  },

  /** A command made on the edge directly (as another device would), bypassing this tab's queue. */
  async dispatchOnEdge({ service, rawRequest }: { service: string; rawRequest: Record<string, unknown> }) {
    const reply = await fetch("/edge/x3m/dispatch", {
      method: "POST",
      headers: { "content-type": "application/json", ...TOKEN },
      body: JSON.stringify(Message.new(service, { rawRequest }).toJSON()),
    });
    return reply.status;
  },

  /** Another client pushes `count` deposits of 1 (raw protocol, in batches of 500): newer commands on `id`. */
  async otherClientDeposits({ id, count }: { id: string; count: number }) {
    const clientId = `other-${crypto.randomUUID()}`;
    let seq = 0;
    let applied = 0;
    while (seq < count) {
      const commands = Array.from({ length: Math.min(500, count - seq) }, () => {
        const message = Message.new("deposit", { rawRequest: { id, amount: 1 } });
        return { aggregate: "account", aggregateId: id, seq: ++seq, messageId: message.id, command: message.toJSON() };
      });
      const reply = await post<{ results: PushResult[] }>("/x3m/sync/push", {
        protocol: SYNC_PROTOCOL_VERSION,
        clientId,
        commands,
      });
      applied += reply.results.filter((result) => result.status === "applied").length;
    }
    return applied;
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
