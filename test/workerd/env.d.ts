// Bindings of test/workerd/wrangler.toml, as `env` from "cloudflare:workers" sees them.
declare namespace Cloudflare {
  interface Env {
    PROBE: DurableObjectNamespace<import("./worker.ts").StoreProbe>;
    ACCOUNTS: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").AggregateObjectRpc & Rpc.DurableObjectBranded
    >;
    SCHEDULER: DurableObjectNamespace<
      import("../../adapters/durable-objects/index.ts").SchedulerObjectRpc & Rpc.DurableObjectBranded
    >;
  }
}
