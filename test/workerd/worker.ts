// The workerd suite's Worker: the Durable Object classes that tests reach through `env`.
import { DurableObject } from "cloudflare:workers";
import { defineAggregateObject } from "../../adapters/durable-objects/index.ts";
import { account } from "../fixtures/account.ts";

/** An empty SQLite-backed object: tests run store contracts inside it with `runInDurableObject`. */
export class StoreProbe extends DurableObject {}

/** The bank account of the test fixtures, one object per account, snapshots every 100 events. */
export const AccountObject = defineAggregateObject(account, { snapshots: { every: 100, schemaVersion: 1 } });

export default {
  fetch: () => new Response("x3m-system workerd test worker"),
} satisfies ExportedHandler;
