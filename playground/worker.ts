// The playground's edge Worker (`npm start` runs it locally with wrangler dev: no Cloudflare account).
// Accounts are event-sourced aggregates, one Durable Object each; reminders are scheduled on an object's
// alarm; the page in ./public talks to the Worker's HTTP endpoint.
import {
  aggregateServices,
  createEdgeWorker,
  defineAggregateObject,
  defineSchedulerObject,
  schedulerClient,
} from "../adapters/durable-objects/index.ts";
import { createNode, defineRouter, Message, type RawRequest } from "../src/index.ts";
import { account } from "../test/fixtures/account.ts";

interface Env {
  ACCOUNTS: DurableObjectNamespace<
    import("../adapters/durable-objects/index.ts").AggregateObjectRpc & Rpc.DurableObjectBranded
  >;
  REMINDERS: DurableObjectNamespace<
    import("../adapters/durable-objects/index.ts").SchedulerObjectRpc & Rpc.DurableObjectBranded
  >;
}

export const AccountObject = defineAggregateObject(account, { snapshots: { every: 50, schemaVersion: 1 } });

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

export default createEdgeWorker<Env>({
  routers: (env) => [accountRouter(env)],
  // A demo token; a real app verifies a session or a JWT here, before anything else is read.
  authenticate: (request) =>
    request.headers.get("authorization") === "Bearer playground" ||
    new URL(request.url).searchParams.get("token") === "playground"
      ? { user: "playground" }
      : null,
  sync: {
    aggregates: (env) => ({ account: env.ACCOUNTS }),
    authorizePull: ({ principal }) => principal.user === "playground",
  },
});
