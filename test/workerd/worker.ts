// The workerd suite's Worker: the Durable Object classes that tests reach through `env`.
import { DurableObject } from "cloudflare:workers";

/** An empty SQLite-backed object: tests run store contracts inside it with `runInDurableObject`. */
export class StoreProbe extends DurableObject {}

export default {
  fetch: () => new Response("x3m-system workerd test worker"),
} satisfies ExportedHandler;
