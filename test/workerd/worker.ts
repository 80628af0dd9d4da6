// The workerd suite's Worker: the Durable Object classes that tests reach through `env`.
import { DurableObject } from "cloudflare:workers";
import {
  aggregateServices,
  createEdgeWorker,
  defineAggregateObject,
  defineConnectionObject,
  defineEventStreamObject,
  defineSchedulerObject,
  shardedEventStreamTarget,
} from "../../adapters/durable-objects/index.ts";
import { createNode, defaultServiceResponded, defineRouter, type Response as X3mResponse } from "../../src/index.ts";
import { account, ownedAccount } from "../fixtures/account.ts";
import { edgeClock, TEST_TICKET_SECRET } from "./edge-clock.ts";
import { authenticateTestToken, websocketTestRouter } from "./edge-fixtures.ts";
import { guardedBankRouter } from "./guarded-bank.ts";
import { SHARDED_ACCOUNTS_STREAM } from "./stream-fixtures.ts";

export { AccountProjection, GatedAccountEvents } from "./stream-fixtures.ts";

/** An empty SQLite-backed object: tests run store contracts inside it with `runInDurableObject`. */
export class StoreProbe extends DurableObject {}

/** The bank account of the test fixtures, one object per account, snapshots every 100 events; commits poke connections. */
export const AccountObject = defineAggregateObject(account, {
  snapshots: { every: 100, schemaVersion: 1 },
  connections: (env) => env.CONNECTIONS,
});

/** Accounts only their owner may command (the aggregate's own authorize), for the red-team tests. */
export const OwnedAccountObject = defineAggregateObject(ownedAccount, { connections: (env) => env.CONNECTIONS });

/** The committed events of every relayed account, in one gapless global order. */
export const AccountEvents = defineEventStreamObject();

/** Accounts whose committed events leave through the transactional outbox to `AccountEvents`. */
export const RelayedAccountObject = defineAggregateObject(account, {
  relayTo: (env) => env.ACCOUNT_EVENTS.get(env.ACCOUNT_EVENTS.idFromName("account")),
});

/** The sharded stream of the sharded-stream tests: 4 shards. */
export const ShardedAccountEvents = defineEventStreamObject({ shards: SHARDED_ACCOUNTS_STREAM.shards });

/** Accounts relaying through their outboxes to the shard of their stream in `ShardedAccountEvents`. */
export const ShardedAccountObject = defineAggregateObject(account, {
  relayTo: (env) => shardedEventStreamTarget(env.SHARDED_ACCOUNT_EVENTS, SHARDED_ACCOUNTS_STREAM),
});

/** Accounts relaying to `GatedAccountEvents`, whose answers a test can hold back (eviction mid-relay). */
export const GatedAccountObject = defineAggregateObject(account, {
  relayTo: (env) => shardedEventStreamTarget(env.GATED_ACCOUNT_EVENTS, SHARDED_ACCOUNTS_STREAM),
});

/** Delivers scheduled messages: deposits into account objects, and a service that always throws. */
export const ReminderScheduler = defineSchedulerObject({
  createDispatcher(env) {
    const accounts = aggregateServices(env.ACCOUNTS, account);
    const node = createNode({ id: "scheduler", announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: "scheduled",
        services: {
          deposit: accounts.on("deposit"),
          explode: () => {
            throw new Error("always fails");
          },
        },
        authorize: () => true,
      }),
    );
    return node;
  },
  scheduler: {
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
    serviceResponded: (m) => (m.response?.status === "error" ? "retry" : "done"),
  },
});

/**
 * Delivers into the guarded bank (its router lets only Ada in) with the default verdicts, except that a
 * service answering "first attempt" is retried with the original's redelivered flag; small pages (5).
 */
export const GuardedScheduler = defineSchedulerObject({
  createDispatcher(env) {
    const node = createNode({ id: "guarded-scheduler", announceIntervalMs: 0 });
    node.register(guardedBankRouter(env));
    return node;
  },
  scheduler: {
    maxInMemory: 5,
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
    serviceResponded: (m) =>
      m.response?.status === "error" && m.response.reason === "first attempt"
        ? { retryInMs: 1, message: m.assign("redelivered", true) }
        : defaultServiceResponded(m),
  },
});

/**
 * What the HTTP dispatch tests call (`http_*`): account commands, an echo of the assigns the service
 * sees, a mirror answering any response it is sent (the status mapping end to end), a private service,
 * and an admin-only router (the test principal is no admin).
 */
function httpTestRouters(env: Cloudflare.Env) {
  const accounts = aggregateServices(env.ACCOUNTS, account);
  const owned = aggregateServices(env.OWNED_ACCOUNTS, ownedAccount);
  return [
    defineRouter({
      name: "http_tests",
      services: {
        http_open: accounts.onNew("open"),
        http_deposit: accounts.on("deposit"),
        http_withdraw: accounts.on("withdraw"),
        http_echo: (msg) => msg.ok({ assigns: msg.assigns, events: msg.events }),
        http_mirror: (msg) => msg.return(msg.rawRequest.response as X3mResponse),
      },
      privateServices: { http_secret: (msg) => msg.ok("edge-internal only") },
      authorize: (msg) => msg.assigns.principal !== undefined,
    }),
    defineRouter({
      name: "owned_tests",
      services: {
        owned_open: owned.onNew("open"),
        owned_deposit: owned.on("deposit"),
        owned_withdraw: owned.on("withdraw"),
        owned_state: owned.stateService(),
      },
      // Signed in is enough here: who may touch which account is the aggregate's own rule.
      authorize: (msg) => msg.assigns.principal !== undefined,
    }),
    defineRouter({
      name: "http_admin",
      services: { http_close_books: (msg) => msg.ok("books closed") },
      authorize: (msg) => (msg.assigns.principal as { admin?: unknown } | undefined)?.admin === true,
    }),
  ];
}

const edgeOptions = {
  clock: edgeClock,
  routers: (env: Cloudflare.Env) => [websocketTestRouter(env), ...httpTestRouters(env)],
  authenticate: authenticateTestToken,
  trustedAssigns: ["locale"],
  connections: (env: Cloudflare.Env) => env.CONNECTIONS,
  tickets: { secret: () => TEST_TICKET_SECRET, ttlMs: 5_000 },
  sync: {
    aggregates: (env: Cloudflare.Env) => ({ account: env.ACCOUNTS, owned_account: env.OWNED_ACCOUNTS }),
    // Plain accounts: Ada reads them all. Owned accounts: only their owner (read from the aggregate).
    authorizePull: async (
      { principal, aggregate, id }: { principal: { user?: unknown }; aggregate: string; id: string },
      env: Cloudflare.Env,
    ) => {
      if (aggregate === "account") return principal.user === "ada";
      const current = (await env.OWNED_ACCOUNTS.get(env.OWNED_ACCOUNTS.idFromName(id)).state(id)) as
        | { state: { owner?: string } }
        | undefined;
      return current !== undefined && current.state.owner === principal.user;
    },
  },
};

/** The edge's WebSocket connections (hibernatable), one object per principal. */
export const Connections = defineConnectionObject(edgeOptions);

/**
 * The edge Worker the endpoint tests reach through `exports.default`. Add your routers to the list; the WebSocket
 * tests use only the `ws_*` services.
 */
export default createEdgeWorker(edgeOptions);
