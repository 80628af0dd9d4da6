// The workerd suite's Worker: the Durable Object classes that tests reach through `env`.
import { DurableObject } from "cloudflare:workers";
import {
  aggregateServices,
  createEdgeWorker,
  defineAggregateObject,
  defineEventStreamObject,
  defineSchedulerObject,
  shardedEventStreamTarget,
} from "../../adapters/durable-objects/index.ts";
import { createNode, defineRouter, type Response as X3mResponse } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";
import { authenticateTestToken, websocketTestRouter } from "./edge-fixtures.ts";
import { SHARDED_ACCOUNTS_STREAM } from "./stream-fixtures.ts";

export { AccountProjection, GatedAccountEvents } from "./stream-fixtures.ts";

/** An empty SQLite-backed object: tests run store contracts inside it with `runInDurableObject`. */
export class StoreProbe extends DurableObject {}

/** The bank account of the test fixtures, one object per account, snapshots every 100 events. */
export const AccountObject = defineAggregateObject(account, { snapshots: { every: 100, schemaVersion: 1 } });

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
 * What the HTTP dispatch tests call (`http_*`): account commands, an echo of the assigns the service
 * sees, a mirror answering any response it is sent (the status mapping end to end), a private service,
 * and an admin-only router (the test principal is no admin).
 */
function httpTestRouters(env: Cloudflare.Env) {
  const accounts = aggregateServices(env.ACCOUNTS, account);
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
      name: "http_admin",
      services: { http_close_books: (msg) => msg.ok("books closed") },
      authorize: (msg) => (msg.assigns.principal as { admin?: unknown } | undefined)?.admin === true,
    }),
  ];
}

/**
 * The edge Worker the endpoint tests reach through `exports.default`. Add your routers to the list; the WebSocket
 * tests use only the `ws_*` services.
 */
export default createEdgeWorker({
  routers: (env) => [websocketTestRouter(env), ...httpTestRouters(env)],
  authenticate: authenticateTestToken,
  trustedAssigns: ["locale"],
});
