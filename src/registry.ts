import { type AnnouncedService, LOCAL } from "./announced.ts";
import { SdkClientError, SdkErrorCode } from "./errors.ts";
import type { AnyRouter, ServiceEntry } from "./router.ts";

export { LOCAL } from "./announced.ts";

/** A node that offers a service, with the name of the router that serves it there. */
export interface Provider {
  readonly node: string;
  readonly router: string;
}

/** A locally registered service: its router and entry. */
export interface LocalService {
  readonly router: AnyRouter;
  readonly entry: ServiceEntry;
}

/**
 * The node's view of who serves what: `local` (every service registered here, public and private),
 * `public` (what this node announces) and `remote` (service → node → router). Pure and synchronous.
 */
export class ServiceRegistry {
  private readonly local = new Map<string, LocalService>();
  private readonly remote = new Map<string, Map<string, string>>();
  private readonly servicesByNode = new Map<string, readonly AnnouncedService[]>();
  /** Every service name a peer announced since this node started (local names stay in `local`). */
  private readonly announced = new Set<string>();

  /** Registers every service of `router`; returns its public and private maps (service → router). */
  registerLocal(router: AnyRouter): { public: Record<string, string>; private: Record<string, string> } {
    const names = router.registeredServices("all");
    for (const name of names) {
      const existing = this.local.get(name);
      if (existing && existing.router !== router) {
        throw new SdkClientError(
          SdkErrorCode.DUPLICATE_SERVICE,
          `service "${name}" is already registered by router "${existing.router.name}"`,
        );
      }
    }
    const result = { public: {} as Record<string, string>, private: {} as Record<string, string> };
    for (const name of names) {
      const entry = router.lookup(name) as ServiceEntry;
      this.local.set(name, { router, entry });
      result[entry.visibility][name] = router.name;
    }
    return result;
  }

  /** The local service `name`, public or private. */
  localService(name: string): LocalService | undefined {
    return this.local.get(name);
  }

  /** What this node announces: its public services. Private services never appear here. */
  publicServices(): AnnouncedService[] {
    const services: AnnouncedService[] = [];
    for (const [name, { router, entry }] of this.local) {
      if (entry.visibility === "public") services.push({ name, router: router.name });
    }
    return services;
  }

  /**
   * Records what `node` announced. An announcement is the node's full list, so it replaces the
   * previous one: services a node stopped offering are dropped (the original only ever added).
   */
  registerRemote(node: string, services: readonly AnnouncedService[]): void {
    this.unregisterNode(node);
    this.servicesByNode.set(node, services);
    for (const { name, router } of services) {
      const nodes = this.remote.get(name) ?? new Map<string, string>();
      this.remote.set(name, nodes);
      nodes.set(node, router);
      this.announced.add(name);
    }
  }

  /** Forgets every service of `node`; returns whether it had any record. */
  unregisterNode(node: string): boolean {
    const services = this.servicesByNode.get(node);
    if (!services) return false;
    this.servicesByNode.delete(node);
    for (const { name } of services) {
      const nodes = this.remote.get(name);
      nodes?.delete(node);
      if (nodes?.size === 0) this.remote.delete(name);
    }
    return true;
  }

  /** Providers of `service`: the local one alone when there is one (local always wins), else every remote. */
  findProviders(service: string): Provider[] {
    const local = this.local.get(service);
    if (local) return [{ node: LOCAL, router: local.router.name }];
    const nodes = this.remote.get(service);
    if (!nodes) return [];
    return [...nodes].map(([node, router]) => ({ node, router }));
  }

  /**
   * Whether this node has ever heard of `service`: registered here (with `"public"`: as a public service),
   * or announced by a peer since the node started (also one that left since). A name it never heard of is
   * most likely mistyped. The names announced are kept for the node's lifetime (one entry per name).
   */
  knows(service: string, visibility: "all" | "public" = "all"): boolean {
    const local = this.local.get(service);
    if (local && (visibility === "all" || local.entry.visibility === "public")) return true;
    return this.announced.has(service);
  }

  /** The remote table as plain data: service → node → router. */
  remoteServices(): Record<string, Record<string, string>> {
    const table: Record<string, Record<string, string>> = {};
    for (const [service, nodes] of this.remote) table[service] = Object.fromEntries(nodes);
    return table;
  }
}
