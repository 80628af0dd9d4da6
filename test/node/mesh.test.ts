import { describe, expect, it } from "vitest";
import {
  type AclPolicy,
  aclAuthorize,
  createAggregateHost,
  createMemoryEventStore,
  defineRouter,
  evaluateAcl,
  Message,
  type Provider,
  parseAclPolicies,
  roundRobinOrder,
} from "../../src/index.ts";
import { account } from "../fixtures/account.ts";
import { createCluster } from "./fixtures.ts";

const readers: AclPolicy = { name: "the-police", type: "allow", actors: ["*"], actions: ["get"], systems: ["*"] };

describe("ACL policies (Spawn's Acl.Policy and AclEvaluator)", () => {
  it("the seed's example: an allow on action get for every actor and system authorizes robert invoking get", () => {
    expect(evaluateAcl([readers], { caller: "robert", action: "get", system: "actor-system" })).toEqual({
      allowed: true,
      policy: "the-police",
    });
  });

  it("denies by default, and a matching deny wins over any allow", () => {
    const policies: AclPolicy[] = [
      readers,
      { name: "no-interns", type: "deny", actors: ["intern-*"], actions: ["*"], systems: ["*"] },
    ];
    expect(evaluateAcl(policies, { caller: "robert", action: "put", system: "s" }).allowed).toBe(false);
    expect(evaluateAcl(policies, { caller: "intern-7", action: "get", system: "s" })).toEqual({
      allowed: false,
      policy: "no-interns",
    });
    expect(evaluateAcl(policies, { caller: "internal", action: "get", system: "s" }).allowed).toBe(true);
  });

  it("matches systems and patterns; an unknown caller or system matches only *", () => {
    const edgeOnly: AclPolicy = {
      name: "edge",
      type: "allow",
      actors: ["ada"],
      actions: ["deposit", "with*"],
      systems: ["edge-*"],
    };
    expect(evaluateAcl([edgeOnly], { caller: "ada", action: "withdraw", system: "edge-eu" }).allowed).toBe(true);
    expect(evaluateAcl([edgeOnly], { caller: "ada", action: "withdraw", system: "tab-1" }).allowed).toBe(false);
    expect(evaluateAcl([edgeOnly], { caller: undefined, action: "deposit", system: "edge-eu" }).allowed).toBe(false);
    expect(evaluateAcl([readers], { caller: undefined, action: "get", system: undefined }).allowed).toBe(true);
    expect(evaluateAcl([{ ...readers, actors: ["a.b"] }], { caller: "aXb", action: "get", system: "s" }).allowed).toBe(
      false,
    );
  });

  it("policies from plain JSON are validated: a typo is an error, never a silent change of access", () => {
    expect(parseAclPolicies(JSON.parse(JSON.stringify([readers])))).toEqual([readers]);
    for (const bad of [
      [{ ...readers, type: "alow" }],
      [{ ...readers, actors: [] }],
      [{ ...readers, extra: 1 }],
      [{ name: "x" }],
      {},
    ]) {
      expect(() => parseAclPolicies(bad)).toThrow(/invalid ACL policies/);
    }
  });

  it("aclAuthorize is a router authorize: over the hub, the caller comes from the principal in assigns", async () => {
    await using cluster = await createCluster(["caller", "actors"]);
    cluster.node("actors").register(
      defineRouter({
        name: "actors",
        services: { get: (msg) => msg.ok("joe's state"), put: (msg) => msg.ok("stored") },
        authorize: aclAuthorize([
          readers,
          { name: "writers", type: "allow", actors: ["admin"], actions: ["put"], systems: ["*"] },
        ]),
      }),
    );
    await cluster.settle();
    const as = (user: string, service: string) =>
      cluster.node("caller").dispatch(Message.new(service).assign("principal", { user }));
    expect((await as("robert", "get")).response).toEqual({ status: "ok", payload: "joe's state" });
    expect((await as("robert", "put")).response).toEqual({ status: "error", reason: "forbidden", denied: true });
    expect((await as("admin", "put")).response).toEqual({ status: "ok", payload: "stored" });
  });
});

describe("node-choice strategies (Spawn's LoadBalance)", () => {
  const providers: Provider[] = ["c", "a", "b"].map((node) => ({ node, router: "r" }));

  it("round-robin takes turns per service, in node-id order", () => {
    const order = roundRobinOrder();
    const first = (service: string) => order(providers, Message.new(service))[0]?.node;
    expect([first("s"), first("s"), first("s"), first("s"), first("other")]).toEqual(["a", "b", "c", "a", "a"]);
    expect(order(providers, Message.new("s")).map((p) => p.node)).toEqual(["b", "c", "a"]);
  });

  it("a strategy can be chosen per node or per dispatch; try-another-node still applies on top", async () => {
    await using cluster = await createCluster(["caller", "p1", "p2", "p3"], { nodeOrder: roundRobinOrder() });
    for (const id of ["p1", "p2", "p3"]) {
      cluster.node(id).register(
        defineRouter({
          name: `r-${id}`,
          services: {
            work: (msg) => (id === "p2" ? msg.return({ status: "try_another_node", reason: "busy" }) : msg.ok(id)),
          },
          authorize: () => true,
        }),
      );
    }
    await cluster.settle();
    const served = [];
    for (let i = 0; i < 3; i++) served.push((await cluster.node("caller").dispatch(Message.new("work"))).response);
    expect(served).toEqual([
      { status: "ok", payload: "p1" },
      { status: "ok", payload: "p3" }, // p2's turn: it asks for another node, p3 answers
      { status: "ok", payload: "p3" },
    ]);
    const last = (providersIn: readonly Provider[]) => [...providersIn].sort((a, b) => b.node.localeCompare(a.node));
    expect((await cluster.node("caller").dispatch(Message.new("work"), { nodeOrder: last })).response).toEqual({
      status: "ok",
      payload: "p3",
    });
  });
});

describe("reading an aggregate's state (Spawn's get_state) as a service", () => {
  it("answers state and version, or not_found, under the router's authorization", async () => {
    await using cluster = await createCluster(["caller", "bank"]);
    const host = createAggregateHost(account, { store: createMemoryEventStore() });
    cluster.node("bank").register(
      defineRouter({
        name: "accounts",
        services: { open: host.onNew("open"), get_account: host.stateService() },
        authorize: (msg) => msg.serviceName !== "get_account" || msg.assigns.principal !== undefined,
      }),
    );
    await cluster.settle();
    const caller = cluster.node("caller");
    await caller.dispatch(Message.new("open", { rawRequest: { id: "a1", owner: "ada" } }));
    const read = (id: string) =>
      Message.new("get_account", { rawRequest: { id } }).assign("principal", { user: "ada" });
    expect((await caller.dispatch(read("a1"))).response).toEqual({
      status: "ok",
      payload: { state: { id: "a1", owner: "ada", balance: 0, closed: false, rejections: 0 }, version: 0 },
    });
    expect((await caller.dispatch(read("nope"))).response).toEqual({ status: "not_found" });
    expect((await caller.dispatch(Message.new("get_account", { rawRequest: { id: "a1" } }))).response).toEqual({
      status: "error",
      reason: "forbidden",
      denied: true,
    });
    host.close();
  });
});
