import { describe, expect, it } from "vitest";
import {
  type AnnouncedService,
  defineRouter,
  LOCAL,
  type Message,
  type Provider,
  SdkClientError,
  SdkErrorCode,
  ServiceRegistry,
} from "../../src/index.ts";

const handler = (msg: Message) => msg.ok();

const svc = (name: string, router: string): AnnouncedService => ({ name, router });

/** Providers sorted by node, so assertions do not depend on insertion order. */
const sorted = (providers: Provider[]) => [...providers].sort((a, b) => a.node.localeCompare(b.node));

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw");
}

describe("ServiceRegistry: remote services", () => {
  it("registers [svc1: r1, svc2: r1] for node1 into an empty remote table", () => {
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("svc1", "r1"), svc("svc2", "r1")]);
    expect(registry.remoteServices()).toEqual({ svc1: { node1: "r1" }, svc2: { node1: "r1" } });
    // Local and public tables are untouched.
    expect(registry.publicServices()).toEqual([]);
    expect(registry.localService("svc1")).toBeUndefined();
    expect(registry.localService("svc2")).toBeUndefined();
  });

  it("leaves existing local and public services untouched", () => {
    const registry = new ServiceRegistry();
    const local = defineRouter({
      name: "local_router",
      services: { mine: handler },
      privateServices: { hidden: handler },
    });
    registry.registerLocal(local);
    registry.registerRemote("node1", [svc("svc1", "r1"), svc("mine", "r1")]);
    expect(registry.publicServices()).toEqual([svc("mine", "local_router")]);
    expect(registry.localService("mine")?.router).toBe(local);
    expect(registry.localService("hidden")?.entry.visibility).toBe("private");
    expect(registry.localService("svc1")).toBeUndefined();
    expect(registry.remoteServices()).toEqual({ svc1: { node1: "r1" }, mine: { node1: "r1" } });
  });

  it("is idempotent: the same announcement twice gives the same table", () => {
    const registry = new ServiceRegistry();
    const services = [svc("svc1", "r1"), svc("svc2", "r1")];
    registry.registerRemote("node1", services);
    registry.registerRemote("node1", services);
    expect(registry.remoteServices()).toEqual({ svc1: { node1: "r1" }, svc2: { node1: "r1" } });
    expect(registry.findProviders("svc1")).toEqual([{ node: "node1", router: "r1" }]);
  });

  it("keeps other nodes' services when another node registers", () => {
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("svc1", "r1"), svc("svc2", "r1")]);
    registry.registerRemote("node2", [svc("svc1", "r2"), svc("svc3", "r2")]);
    expect(registry.remoteServices()).toEqual({
      svc1: { node1: "r1", node2: "r2" },
      svc2: { node1: "r1" },
      svc3: { node2: "r2" },
    });
  });

  it("replaces a node's list with its new announcement, dropping services it stopped offering", () => {
    // A deliberate difference from the original, which only ever added.
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("svc1", "r1"), svc("svc2", "r1")]);
    registry.registerRemote("node2", [svc("svc1", "r2")]);
    registry.registerRemote("node1", [svc("svc2", "r1b"), svc("svc4", "r1b")]);
    expect(registry.remoteServices()).toEqual({
      svc1: { node2: "r2" },
      svc2: { node1: "r1b" },
      svc4: { node1: "r1b" },
    });
    expect(registry.findProviders("svc1")).toEqual([{ node: "node2", router: "r2" }]);
  });

  it("drops every service of a node that announces an empty list", () => {
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("svc1", "r1"), svc("svc2", "r1")]);
    registry.registerRemote("node2", [svc("svc2", "r2")]);
    registry.registerRemote("node1", []);
    expect(registry.remoteServices()).toEqual({ svc2: { node2: "r2" } });
    expect(registry.findProviders("svc1")).toEqual([]);
  });

  it("unregisterNode drops the node everywhere and drops services with no provider left", () => {
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("svc1", "r1"), svc("svc2", "r1")]);
    registry.registerRemote("node2", [svc("svc1", "r2"), svc("svc3", "r2")]);
    expect(registry.unregisterNode("node1")).toBe(true);
    expect(registry.remoteServices()).toEqual({ svc1: { node2: "r2" }, svc3: { node2: "r2" } });
    expect(registry.findProviders("svc2")).toEqual([]);
    expect(registry.unregisterNode("node2")).toBe(true);
    expect(registry.remoteServices()).toEqual({});
  });

  it("unregisterNode of an unknown (or already removed) node changes nothing and returns false", () => {
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("svc1", "r1")]);
    expect(registry.unregisterNode("ghost")).toBe(false);
    expect(registry.unregisterNode("node1")).toBe(true);
    expect(registry.unregisterNode("node1")).toBe(false);
    expect(registry.remoteServices()).toEqual({});
  });

  it("remoteServices returns a snapshot the caller cannot use to change the registry", () => {
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("svc1", "r1")]);
    const snapshot = registry.remoteServices();
    (snapshot.svc1 as Record<string, string>).node9 = "r9";
    snapshot.svc9 = { node1: "r1" };
    expect(registry.remoteServices()).toEqual({ svc1: { node1: "r1" } });
  });
});

describe("ServiceRegistry: findProviders", () => {
  it("returns the local provider alone when a service is both local and remote (local always wins)", () => {
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("svc1", "r1")]);
    registry.registerRemote("node2", [svc("svc1", "r2")]);
    registry.registerLocal(defineRouter({ name: "local_router", services: { svc1: handler } }));
    expect(registry.findProviders("svc1")).toEqual([{ node: LOCAL, router: "local_router" }]);
    expect(LOCAL).toBe("local");
  });

  it("returns a local private service too (dispatches made on this node may reach it)", () => {
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("hidden", "r1")]);
    registry.registerLocal(defineRouter({ name: "local_router", privateServices: { hidden: handler } }));
    expect(registry.findProviders("hidden")).toEqual([{ node: LOCAL, router: "local_router" }]);
  });

  it("returns every remote provider when there is no local one", () => {
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("svc1", "r1")]);
    registry.registerRemote("node2", [svc("svc1", "r2")]);
    registry.registerRemote("node3", [svc("svc1", "r3"), svc("other", "r3")]);
    expect(sorted(registry.findProviders("svc1"))).toEqual([
      { node: "node1", router: "r1" },
      { node: "node2", router: "r2" },
      { node: "node3", router: "r3" },
    ]);
  });

  it("returns [] when nobody provides the service", () => {
    const registry = new ServiceRegistry();
    expect(registry.findProviders("svc1")).toEqual([]);
    registry.registerRemote("node1", [svc("svc2", "r1")]);
    registry.registerLocal(defineRouter({ name: "local_router", services: { svc3: handler } }));
    expect(registry.findProviders("svc1")).toEqual([]);
  });

  it("does not treat Object.prototype members as services", () => {
    const registry = new ServiceRegistry();
    registry.registerRemote("node1", [svc("svc1", "r1")]);
    for (const name of ["toString", "hasOwnProperty", "valueOf"]) {
      expect(registry.findProviders(name)).toEqual([]);
      expect(registry.localService(name)).toBeUndefined();
    }
  });
});

describe("ServiceRegistry: local services", () => {
  it("publicServices never contains private services", () => {
    const registry = new ServiceRegistry();
    const router = defineRouter({
      name: "accounts",
      services: { open_account: handler, close_account: handler },
      privateServices: { audit: handler, rebuild: handler },
    });
    const registered = registry.registerLocal(router);
    expect(registered).toEqual({
      public: { open_account: "accounts", close_account: "accounts" },
      private: { audit: "accounts", rebuild: "accounts" },
    });
    const published = registry.publicServices();
    expect(published).toEqual(
      expect.arrayContaining([svc("open_account", "accounts"), svc("close_account", "accounts")]),
    );
    expect(published).toHaveLength(2);
    expect(published.map((s) => s.name)).not.toContain("audit");
    expect(published.map((s) => s.name)).not.toContain("rebuild");
  });

  it("publicServices is empty for a router with only private services", () => {
    const registry = new ServiceRegistry();
    registry.registerLocal(defineRouter({ name: "internal", privateServices: { audit: handler } }));
    expect(registry.publicServices()).toEqual([]);
    expect(registry.localService("audit")?.entry.visibility).toBe("private");
  });

  it("throws DUPLICATE_SERVICE when two routers register the same service name, registering nothing of the second", () => {
    const registry = new ServiceRegistry();
    const first = defineRouter({ name: "first", services: { svc1: handler } });
    const second = defineRouter({ name: "second", services: { other: handler, svc1: handler } });
    registry.registerLocal(first);
    const error = captureError(() => registry.registerLocal(second));
    expect(error).toBeInstanceOf(SdkClientError);
    expect((error as SdkClientError).code).toBe(SdkErrorCode.DUPLICATE_SERVICE);
    expect((error as SdkClientError).message).toContain('"svc1"');
    expect((error as SdkClientError).message).toContain('"first"');
    // The first registration stands, and the failed one left no trace.
    expect(registry.localService("svc1")?.router).toBe(first);
    expect(registry.localService("other")).toBeUndefined();
    expect(registry.publicServices()).toEqual([svc("svc1", "first")]);
  });

  it("throws DUPLICATE_SERVICE when a private service clashes with another router's public one", () => {
    const registry = new ServiceRegistry();
    registry.registerLocal(defineRouter({ name: "first", services: { svc1: handler } }));
    const clash = defineRouter({ name: "second", privateServices: { svc1: handler } });
    expect(() => registry.registerLocal(clash)).toThrowError(
      expect.objectContaining({ code: SdkErrorCode.DUPLICATE_SERVICE }),
    );
    expect(registry.localService("svc1")?.entry.visibility).toBe("public");
  });

  it("throws DUPLICATE_SERVICE for two distinct routers even when they share a name", () => {
    const registry = new ServiceRegistry();
    registry.registerLocal(defineRouter({ name: "same", services: { svc1: handler } }));
    expect(() => registry.registerLocal(defineRouter({ name: "same", services: { svc1: handler } }))).toThrowError(
      expect.objectContaining({ code: SdkErrorCode.DUPLICATE_SERVICE }),
    );
  });

  it("registering the same router twice is idempotent", () => {
    const registry = new ServiceRegistry();
    const router = defineRouter({
      name: "accounts",
      services: { open_account: handler },
      privateServices: { audit: handler },
    });
    const first = registry.registerLocal(router);
    const second = registry.registerLocal(router);
    expect(second).toEqual(first);
    expect(registry.publicServices()).toEqual([svc("open_account", "accounts")]);
    expect(registry.findProviders("open_account")).toEqual([{ node: LOCAL, router: "accounts" }]);
    expect(registry.localService("audit")?.router).toBe(router);
  });
});
