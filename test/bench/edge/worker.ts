// The edge benchmark's Worker: the real edge (HTTP dispatch into account objects, connection objects with
// pokes) and, in the same Worker, its baselines: a Worker answering a constant, and an object doing one
// SQLite INSERT per request.
import { DurableObject } from "cloudflare:workers";
import {
  aggregateServices,
  createEdgeWorker,
  defineAggregateObject,
  defineConnectionObject,
  type EdgeWorkerOptions,
} from "../../../adapters/durable-objects/index.ts";
import { defineRouter } from "../../../src/index.ts";
import { account } from "../../fixtures/account.ts";

interface Env {
  ACCOUNTS: DurableObjectNamespace<
    import("../../../adapters/durable-objects/index.ts").AggregateObjectRpc & Rpc.DurableObjectBranded
  >;
  CONNECTIONS: DurableObjectNamespace<
    import("../../../adapters/durable-objects/index.ts").ConnectionObjectRpc & Rpc.DurableObjectBranded
  >;
  INSERTS: DurableObjectNamespace<OneInsert>;
  X3M_TICKET_SECRET: string;
}

export const AccountObject = defineAggregateObject<typeof account, Env>(account, {
  connections: (env) => env.CONNECTIONS,
});

/** The baseline object: one INSERT of a deposit-sized row per request. */
export class OneInsert extends DurableObject {
  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, data TEXT NOT NULL)");
  }
  async insert(data: string): Promise<number> {
    this.ctx.storage.sql.exec("INSERT INTO rows (data) VALUES (?)", data);
    return 1;
  }
}

const edge: EdgeWorkerOptions<Env> = {
  routers: (env) => {
    const accounts = aggregateServices(env.ACCOUNTS, account);
    return [
      defineRouter({
        name: "bench",
        services: { open_account: accounts.onNew("open"), deposit: accounts.on("deposit") },
        authorize: (msg) => msg.assigns.principal !== undefined,
      }),
    ];
  },
  authenticate: (request) => (request.headers.get("authorization") === "Bearer bench" ? { user: "bench" } : null),
  connections: (env) => env.CONNECTIONS,
  tickets: { secret: (env) => env.X3M_TICKET_SECRET },
  sync: { aggregates: (env) => ({ account: env.ACCOUNTS }), authorizePull: () => true },
};

export const Connections = defineConnectionObject(edge);
const worker = createEdgeWorker(edge);

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname, searchParams } = new URL(request.url);
    if (pathname === "/const") return Response.json({ ok: true });
    if (pathname === "/insert") {
      const stub = env.INSERTS.get(env.INSERTS.idFromName(searchParams.get("object") ?? "one"));
      return Response.json({ rows: await stub.insert(await request.text()) });
    }
    return worker.fetch(request, env);
  },
};
