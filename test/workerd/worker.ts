// The workerd suite's Worker: the Durable Object classes that tests reach through `env`.
import { DurableObject } from "cloudflare:workers";
import {
  aggregateServices,
  defineAggregateObject,
  defineSchedulerObject,
} from "../../adapters/durable-objects/index.ts";
import { createNode, defineRouter } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";

/** An empty SQLite-backed object: tests run store contracts inside it with `runInDurableObject`. */
export class StoreProbe extends DurableObject {}

/** The bank account of the test fixtures, one object per account, snapshots every 100 events. */
export const AccountObject = defineAggregateObject(account, { snapshots: { every: 100, schemaVersion: 1 } });

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

export default {
  fetch: () => new Response("x3m-system workerd test worker"),
} satisfies ExportedHandler;
