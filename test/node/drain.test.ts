// Graceful draining (Spawn's GracefulShutdown): running → draining → stopped; peers stop choosing the
// node at once, its new requests go elsewhere, the work in flight finishes before it leaves.
import { describe, expect, it } from "vitest";
import { createNode, defineRouter, Message, type Provider, type TelemetryEvent } from "../../src/index.ts";
import { createCluster, gate } from "./fixtures.ts";

/** `work` answers with the node's id once `release` opens; `quick` answers at once. */
function worker(id: string, release: Promise<void> = Promise.resolve()) {
  return defineRouter({
    name: `worker_${id}`,
    services: {
      work: async (msg) => {
        await release;
        return msg.ok(id);
      },
      quick: (msg) => msg.ok(id),
    },
    authorize: () => true,
  });
}

const inOrder =
  (...ids: string[]) =>
  (providers: readonly Provider[]) =>
    [...providers].sort((a, b) => ids.indexOf(a.node) - ids.indexOf(b.node));

function record(node: ReturnType<typeof createNode>): TelemetryEvent[] {
  const events: TelemetryEvent[] = [];
  node.telemetry.on("*", (event) => {
    if (event.name.includes("drain")) events.push(event);
  });
  return events;
}

describe("graceful draining", () => {
  it("finishes the request in flight, then leaves; peers stop choosing it at once", async () => {
    await using cluster = await createCluster(["caller", "leaving", "staying"], {
      nodeOrder: inOrder("leaving", "staying"),
    });
    const release = gate();
    cluster.node("leaving").register(worker("leaving", release.opened));
    cluster.node("staying").register(worker("staying"));
    await cluster.settle();
    const leavingEvents = record(cluster.node("leaving"));
    const callerEvents = record(cluster.node("caller"));

    const inFlight = cluster.node("caller").dispatch(Message.new("work"));
    await cluster.settle();
    let drained = false;
    const draining = cluster
      .node("leaving")
      .drain()
      .then(() => {
        drained = true;
      });
    expect(cluster.node("leaving").state).toBe("draining");
    await cluster.settle();
    // Peers know at once: the draining node is no longer a provider, while its answer is still awaited.
    expect(cluster.node("caller").discover(Message.new("work"))).toEqual([
      { node: "staying", router: "worker_staying" },
    ]);
    expect((await cluster.node("caller").dispatch(Message.new("quick"))).response).toEqual({
      status: "ok",
      payload: "staying",
    });
    expect(drained).toBe(false);

    release.open();
    expect((await inFlight).response).toEqual({ status: "ok", payload: "leaving" });
    await draining;
    expect(cluster.node("leaving").state).toBe("stopped");
    await cluster.settle();
    expect(cluster.node("caller").peers()).not.toContain("leaving");
    expect(leavingEvents.map((e) => e.name)).toEqual(["draining_started", "draining_finished"]);
    expect(leavingEvents[0]?.measurements).toMatchObject({ inFlight: 1 });
    expect(leavingEvents[1]?.metadata).toEqual({ node: "leaving", forced: false });
    expect(leavingEvents[1]?.measurements).toMatchObject({ abandoned: 0 });
    expect(callerEvents.map((e) => [e.name, e.metadata.node])).toEqual([["node_draining", "leaving"]]);
  });

  it("a request that reaches it while draining is answered try_another_node: the caller tries the next one at once", async () => {
    await using cluster = await createCluster(["caller", "leaving", "staying"], {
      nodeOrder: inOrder("leaving", "staying"),
    });
    const release = gate();
    cluster.node("leaving").register(worker("leaving", release.opened));
    cluster.node("staying").register(worker("staying"));
    await cluster.settle();
    void cluster.node("caller").dispatch(Message.new("work")); // keeps "leaving" busy
    await cluster.settle();
    // The request is on its way when the node starts draining: it arrives after the drain.
    const late = cluster.node("caller").dispatch(Message.new("quick"));
    const draining = cluster.node("leaving").drain();
    const timeBefore = cluster.clock.now();
    expect((await late).response).toEqual({ status: "ok", payload: "staying" });
    expect(cluster.clock.now()).toBe(timeBefore); // no timeout was waited for
    release.open();
    await draining;
  });

  it("while draining, its own dispatches still work, and a cast goes to another node", async () => {
    await using cluster = await createCluster(["caller", "leaving", "staying"]);
    const release = gate();
    cluster.node("leaving").register(worker("leaving", release.opened));
    cluster.node("staying").register(worker("staying"));
    await cluster.settle();
    void cluster.node("caller").dispatch(Message.new("work"), { nodeOrder: inOrder("leaving", "staying") });
    await cluster.settle();
    const draining = cluster.node("leaving").drain();
    await cluster.settle();
    expect((await cluster.node("leaving").dispatch(Message.new("quick"))).response).toEqual({
      status: "ok",
      payload: "leaving",
    });
    expect(await cluster.node("caller").cast(Message.new("quick"))).toEqual({ accepted: true, node: "staying" });
    await expect(cluster.node("leaving").connect(cluster.hub.transport())).rejects.toThrow(/draining/);
    release.open();
    await draining;
  });

  it("gives up waiting after timeoutMs and leaves anyway (forced)", async () => {
    await using cluster = await createCluster(["caller", "stuck"]);
    cluster
      .node("stuck")
      .register(
        defineRouter({ name: "stuck", services: { work: () => new Promise(() => {}) }, authorize: () => true }),
      );
    await cluster.settle();
    const events = record(cluster.node("stuck"));
    const pending = cluster.node("caller").dispatch(Message.new("work"), { timeoutMs: 60_000 });
    await cluster.settle();
    const draining = cluster.node("stuck").drain({ timeoutMs: 1_000 });
    await cluster.clock.advance(999);
    expect(cluster.node("stuck").state).toBe("draining");
    await cluster.clock.advance(1);
    await draining;
    expect(cluster.node("stuck").state).toBe("stopped");
    expect(events[1]?.metadata).toEqual({ node: "stuck", forced: true });
    expect(events[1]?.measurements).toMatchObject({ duration: 1_000, abandoned: 1 });
    expect((await pending).response).toEqual({
      status: "no_nodes_available",
      tried: [{ node: "stuck", reason: "node_left" }],
    });
  });

  it("close() during a drain is the abrupt path: the drain resolves, the node is stopped", async () => {
    await using cluster = await createCluster(["caller", "stuck"]);
    cluster
      .node("stuck")
      .register(
        defineRouter({ name: "stuck", services: { work: () => new Promise(() => {}) }, authorize: () => true }),
      );
    await cluster.settle();
    void cluster.node("caller").dispatch(Message.new("work"));
    await cluster.settle();
    const draining = cluster.node("stuck").drain();
    expect(cluster.node("stuck").drain()).toBe(draining);
    await cluster.node("stuck").close();
    await draining;
    expect(cluster.node("stuck").state).toBe("stopped");
    await cluster.node("stuck").drain(); // a stopped node has nothing to drain
  });

  it("a node with nothing in flight stops at once; a peer joining meanwhile learns it is draining", async () => {
    const node = createNode({ announceIntervalMs: 0 });
    expect(node.state).toBe("running");
    await node.drain();
    expect(node.state).toBe("stopped");
    expect(() => node.register(worker("x"))).toThrow(/closed/);

    await using cluster = await createCluster(["leaving"]);
    const release = gate();
    cluster.node("leaving").register(worker("leaving", release.opened));
    const helper = createNode({ id: "helper", clock: cluster.clock, announceIntervalMs: 0 });
    await helper.connect(cluster.hub.transport());
    await cluster.settle();
    void helper.dispatch(Message.new("work"));
    await cluster.settle();
    const draining = cluster.node("leaving").drain();
    const late = createNode({ id: "late", clock: cluster.clock, announceIntervalMs: 0 });
    const lateEvents = record(late);
    await late.connect(cluster.hub.transport());
    await cluster.settle();
    expect(late.discover(Message.new("work"))).toEqual([]);
    expect(lateEvents.map((e) => [e.name, e.metadata.node])).toEqual([["node_draining", "leaving"]]);
    release.open();
    await draining;
    await Promise.all([helper.close(), late.close()]);
  });
});
