// The playground's edge Worker (`npm start` runs it locally with wrangler dev: no Cloudflare account).
// Accounts are event-sourced aggregates, one Durable Object each; reminders are scheduled on an object's
// alarm; the page in ./public talks to the Worker's HTTP endpoint.
import {
  type AggregateObjectNamespace,
  aggregateServices,
  type ConnectionObjectNamespace,
  createEdgeWorker,
  defineAggregateObject,
  defineConnectionObject,
  defineSchedulerObject,
  type EdgeWorkerOptions,
  type SchedulerObjectNamespace,
  schedulerClient,
} from "../adapters/durable-objects/index.ts";
import { createNode, defineRouter, Message, type RawRequest } from "../src/index.ts";
import { account } from "./account.ts";

interface Env {
  ACCOUNTS: AggregateObjectNamespace;
  CONNECTIONS: ConnectionObjectNamespace;
  REMINDERS: SchedulerObjectNamespace;
  /** Signs WebSocket tickets (wrangler.toml [vars] for the local playground; `wrangler secret put` for real). */
  X3M_TICKET_SECRET: string;
}

// Every commit pokes the live connections of the clients that track the account.
export const AccountObject = defineAggregateObject<typeof account, Env>(account, {
  snapshots: { every: 50, schemaVersion: 1 },
  connections: (env) => env.CONNECTIONS,
});

const accountRouter = (env: Env) => {
  const accounts = aggregateServices(env.ACCOUNTS, account);
  return defineRouter({
    name: "accounts",
    services: {
      open_account: accounts.onNew("open"),
      deposit: accounts.on("deposit"),
      withdraw: accounts.on("withdraw"),
      close_account: accounts.on("withdraw_all_and_close"),
      balance: async (msg) => {
        const id = String(msg.rawRequest.id ?? "");
        const current = id ? await accounts.state(id) : undefined;
        return current ? msg.ok(current) : msg.return({ status: "not_found" });
      },
      // Deposits later, through the reminders object's alarm.
      deposit_later: async (msg) => {
        const { id, amount, inMs } = msg.rawRequest as RawRequest;
        // A child of this request: it runs later on behalf of the same principal (the scheduler keeps it).
        const deposit = Message.causedBy("deposit", msg, { rawRequest: { id, amount } });
        const reminders = schedulerClient(env.REMINDERS.get(env.REMINDERS.idFromName("playground")));
        await reminders.schedule(deposit, { inMs: Number(inMs ?? 5_000) });
        return msg.ok({ scheduled: deposit.id });
      },
    },
    // The playground's only rule: the edge authenticated the caller.
    authorize: (msg) => msg.assigns.principal !== undefined,
  });
};

export const Reminders = defineSchedulerObject<Env>({
  createDispatcher(env) {
    const node = createNode({ id: "reminders", announceIntervalMs: 0 });
    node.register(accountRouter(env));
    return node;
  },
});

const edge: EdgeWorkerOptions<Env> = {
  routers: (env) => [accountRouter(env)],
  // A demo token; a real app verifies a session or a JWT here, before anything else is read. Headers only:
  // the page opens its WebSocket with a short-lived ticket (tickets below), never with a token in the URL.
  authenticate: (request) =>
    request.headers.get("authorization") === "Bearer playground" ? { user: "playground" } : null,
  connections: (env) => env.CONNECTIONS,
  tickets: { secret: (env) => env.X3M_TICKET_SECRET },
  sync: {
    aggregates: (env) => ({ account: env.ACCOUNTS }),
    authorizePull: ({ principal }) => principal.user === "playground",
  },
};

/** The edge's WebSocket connections (hibernatable; one object per principal). */
export const Connections = defineConnectionObject(edge);

export default createEdgeWorker(edge);
