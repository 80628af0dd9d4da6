// Bindings of test/workerd/wrangler.toml, as `env` from "cloudflare:test" / "cloudflare:workers" sees them.
declare namespace Cloudflare {
  interface Env {
    PROBE: DurableObjectNamespace<import("./worker.ts").StoreProbe>;
  }
}
