// Bindings of test/workerd/wrangler.toml, as `env` from "cloudflare:workers" sees them.
declare namespace Cloudflare {
  interface Env {
    PROBE: DurableObjectNamespace<import("./worker.ts").StoreProbe>;
    ACCOUNTS: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").AggregateObjectRpc & Rpc.DurableObjectBranded
    >;
    RELAYED_ACCOUNTS: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").AggregateObjectRpc & Rpc.DurableObjectBranded
    >;
    ACCOUNT_EVENTS: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").EventStreamRpc & Rpc.DurableObjectBranded
    >;
    SHARDED_ACCOUNTS: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").AggregateObjectRpc & Rpc.DurableObjectBranded
    >;
    SHARDED_ACCOUNT_EVENTS: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").EventStreamRpc & Rpc.DurableObjectBranded
    >;
    GATED_ACCOUNTS: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").AggregateObjectRpc & Rpc.DurableObjectBranded
    >;
    GATED_ACCOUNT_EVENTS: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").EventStreamRpc & Rpc.DurableObjectBranded
    >;
    PROJECTIONS: DurableObjectNamespace<import("./stream-fixtures.ts").AccountProjection>;
    CONNECTIONS: DurableObjectNamespace<import("./worker.ts").Connections>;
    OWNED_ACCOUNTS: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").AggregateObjectRpc & Rpc.DurableObjectBranded
    >;
    SCHEDULER: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").SchedulerObjectRpc & Rpc.DurableObjectBranded
    >;
    GUARDED_SCHEDULER: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").SchedulerObjectRpc & Rpc.DurableObjectBranded
    >;
  }
  // The main module's exports, so `exports.default` from "cloudflare:workers" is typed as a Fetcher.
  interface GlobalProps {
    mainModule: typeof import("./worker.ts");
  }
}
