// Pub/sub topics (Spawn's Pubsub) over the in-process hub: subscriptions are announced and withdrawn
// like services, a publication reaches every subscriber as a caused-by copy through its router.
import { describe, expect, it } from "vitest";
import {
  createNode,
  defineRouter,
  encodeFrame,
  Message,
  noReply,
  type TelemetryEvent,
  type TopicDelivery,
} from "../../src/index.ts";
import { createCluster, gate } from "./fixtures.ts";

/** A router whose services record what they received and answer with where they ran. */
function subscriberRouter(node: string, seen: Message[], options: { deny?: boolean } = {}) {
  return defineRouter({
    name: `listeners_${node}`,
    services: {
      on_price: (msg) => {
        seen.push(msg);
        return msg.ok({ node, price: msg.rawRequest.price });
      },
    },
    privateServices: {
      audit_price: (msg) => {
        seen.push(msg);
        return msg.ok("audited");
      },
    },
    authorize: (msg) => !options.deny || (msg.assigns.principal as { user?: string } | undefined)?.user === "admin",
  });
}

const byNode = (deliveries: TopicDelivery[]) => deliveries.map((d) => `${d.node}:${d.service}:${d.ok}`);

describe("pub/sub topics", () => {
  it("delivers a caused-by copy to every subscriber, local and on peers, through their routers", async () => {
    await using cluster = await createCluster(["pub", "s1", "s2"]);
    const seen: Message[] = [];
    for (const id of ["pub", "s1", "s2"]) {
      cluster.node(id).register(subscriberRouter(id, seen));
      cluster.node(id).subscribe("prices", "on_price");
    }
    await cluster.settle();
    const published = Message.new("price_changed", { rawRequest: { price: 42 } }).assign("principal", { user: "ada" });
    const deliveries = await cluster.node("pub").publish("prices", published);

    expect(byNode(deliveries)).toEqual(["local:on_price:true", "s1:on_price:true", "s2:on_price:true"]);
    expect(deliveries.map((d) => d.ok && d.reply.response)).toEqual([
      { status: "ok", payload: { node: "pub", price: 42 } },
      { status: "ok", payload: { node: "s1", price: 42 } },
      { status: "ok", payload: { node: "s2", price: 42 } },
    ]);
    expect(seen).toHaveLength(3);
    for (const copy of seen) {
      expect(copy).toMatchObject({
        serviceName: "on_price",
        correlationId: published.correlationId,
        causationId: published.id,
        rawRequest: { price: 42 },
        assigns: { principal: { user: "ada" } },
        originNode: "pub",
      });
      expect(copy.id).not.toBe(published.id);
    }
    expect(new Set(seen.map((copy) => copy.id)).size).toBe(3);
  });

  it("authorization applies: a subscriber's router may refuse, and the publisher sees its answer", async () => {
    await using cluster = await createCluster(["pub", "strict"]);
    const seen: Message[] = [];
    cluster.node("strict").register(subscriberRouter("strict", seen, { deny: true }));
    cluster.node("strict").subscribe("prices", "on_price");
    await cluster.settle();
    const [refused] = await cluster.node("pub").publish("prices", Message.new("tick"));
    expect(refused).toMatchObject({ node: "strict", service: "on_price", ok: true });
    expect(refused?.ok && refused.reply.response).toEqual({ status: "error", reason: "forbidden", denied: true });
    const [allowed] = await cluster
      .node("pub")
      .publish("prices", Message.new("tick", { rawRequest: { price: 1 } }).assign("principal", { user: "admin" }));
    expect(allowed?.ok && allowed.reply.response).toEqual({ status: "ok", payload: { node: "strict", price: 1 } });
    expect(seen).toHaveLength(1);
  });

  it("a private service's subscription is never announced: only its own node's publications reach it", async () => {
    await using cluster = await createCluster(["owner", "other"]);
    const seen: Message[] = [];
    const frames: string[] = [];
    cluster.hub.intercept((frame) => {
      frames.push(frame.text);
      return frame.text;
    });
    cluster.node("owner").register(subscriberRouter("owner", seen));
    cluster.node("owner").subscribe("prices", "audit_price");
    await cluster.settle();
    expect(frames.join("\n")).not.toContain("audit_price");
    expect(cluster.node("other").topics.subscribers("prices")).toEqual([]);
    expect(await cluster.node("other").publish("prices", Message.new("tick"))).toEqual([]);
    const local = await cluster.node("owner").publish("prices", Message.new("tick"));
    expect(local.map((d) => d.ok && d.reply.response)).toEqual([{ status: "ok", payload: "audited" }]);
  });

  it("subscriptions are announced and withdrawn like services; a later announcement replaces the list", async () => {
    await using cluster = await createCluster(["pub", "sub"]);
    const seen: Message[] = [];
    cluster.node("sub").register(subscriberRouter("sub", seen));
    const unsubscribe = cluster.node("sub").subscribe("prices", "on_price");
    cluster.node("sub").subscribe("news", "on_price");
    await cluster.settle();
    expect(cluster.node("pub").topics.remoteSubscriptions()).toEqual({
      sub: [
        { topic: "prices", service: "on_price" },
        { topic: "news", service: "on_price" },
      ],
    });
    unsubscribe();
    expect(cluster.node("sub").unsubscribe("prices", "on_price")).toBe(false);
    await cluster.settle();
    expect(cluster.node("pub").topics.subscribers("prices")).toEqual([]);
    expect(cluster.node("pub").topics.subscribers("news")).toEqual([{ node: "sub", service: "on_price" }]);
    expect(await cluster.node("pub").publish("prices", Message.new("tick"))).toEqual([]);
  });

  it("a subscription made before its service is registered is announced once it is", async () => {
    await using cluster = await createCluster(["pub", "sub"]);
    cluster.node("sub").subscribe("prices", "on_price");
    await cluster.settle();
    expect(cluster.node("pub").topics.subscribers("prices")).toEqual([]);
    cluster.node("sub").register(subscriberRouter("sub", []));
    await cluster.settle();
    expect(cluster.node("pub").topics.subscribers("prices")).toEqual([{ node: "sub", service: "on_price" }]);
  });

  it("re-announces subscriptions periodically, and tells a node that joins later", async () => {
    await using cluster = await createCluster(["pub", "sub"], { announceIntervalMs: 20_000 });
    cluster.hub.intercept((frame) => (frame.text.includes('"kind":"announce"') ? null : frame.text));
    cluster.node("sub").register(subscriberRouter("sub", []));
    cluster.node("sub").subscribe("prices", "on_price");
    await cluster.settle();
    expect(cluster.node("pub").topics.subscribers("prices")).toEqual([]);
    cluster.hub.intercept(undefined);
    await cluster.clock.advance(20_000);
    expect(cluster.node("pub").topics.subscribers("prices")).toEqual([{ node: "sub", service: "on_price" }]);

    const late = createNode({ id: "late", clock: cluster.clock, announceIntervalMs: 0 });
    await late.connect(cluster.hub.transport());
    await cluster.settle();
    expect(late.topics.subscribers("prices")).toEqual([{ node: "sub", service: "on_price" }]);
    await late.close();
  });

  it("a peer that leaves (a crash too) takes its subscriptions with it", async () => {
    await using cluster = await createCluster(["pub", "s1", "s2"]);
    for (const id of ["s1", "s2"]) {
      cluster.node(id).register(subscriberRouter(id, []));
      cluster.node(id).subscribe("prices", "on_price");
    }
    await cluster.settle();
    cluster.hub.disconnect("s1");
    await cluster.node("s2").close();
    await cluster.settle();
    expect(cluster.node("pub").topics.subscribers("prices")).toEqual([]);
    expect(cluster.node("pub").topics.remoteSubscriptions()).toEqual({});
  });

  it("reports a subscriber that leaves mid-delivery or does not answer in time as a failure", async () => {
    await using cluster = await createCluster(["pub", "leaving", "silent", "fine"]);
    const reached = gate();
    cluster.node("leaving").register(
      defineRouter({
        name: "leaving",
        services: {
          on_price: () => {
            reached.open();
            return noReply;
          },
        },
        authorize: () => true,
      }),
    );
    cluster
      .node("silent")
      .register(defineRouter({ name: "silent", services: { on_price: () => noReply }, authorize: () => true }));
    cluster.node("fine").register(subscriberRouter("fine", []));
    for (const id of ["leaving", "silent", "fine"]) cluster.node(id).subscribe("prices", "on_price");
    await cluster.settle();
    const events: TelemetryEvent[] = [];
    cluster.node("pub").telemetry.on("topic_published", (e) => events.push(e));
    const publishing = cluster.node("pub").publish("prices", Message.new("tick"), { timeoutMs: 1_000 });
    await reached.opened;
    cluster.hub.disconnect("leaving");
    await cluster.clock.advance(1_000);
    const deliveries = await publishing;
    expect(deliveries).toEqual([
      { node: "fine", service: "on_price", ok: true, reply: expect.any(Message) },
      { node: "leaving", service: "on_price", ok: false, reason: "node_left" },
      { node: "silent", service: "on_price", ok: false, reason: "service_timeout" },
    ]);
    expect(events[0]?.measurements).toMatchObject({ subscribers: 3, failed: 2 });
    expect(events[0]?.metadata).toMatchObject({ topic: "prices", callerNode: "pub" });
  });

  it("rejects invalid topic and service names", async () => {
    const node = createNode({ announceIntervalMs: 0 });
    expect(() => node.subscribe("bad topic", "svc")).toThrow(/cannot be a topic/);
    expect(() => node.subscribe("topic", "__proto__")).toThrow(/cannot be a topic or service name/);
    await expect(node.publish("", Message.new("x"))).rejects.toThrow(/cannot be a topic/);
    await node.close();
  });

  it("drops hostile subscription lists: bad names and oversize lists never reach the table", async () => {
    await using cluster = await createCluster(["pub"]);
    const rejected: TelemetryEvent[] = [];
    cluster.node("pub").telemetry.on("frame_rejected", (e) => rejected.push(e));
    const raw = cluster.hub.transport();
    await raw.open({ nodeId: "evil", receive: () => {}, peerJoined: () => {}, peerLeft: () => {} });
    const announce = (topics: unknown) =>
      raw.send(JSON.stringify({ v: 1, kind: "announce", from: "evil", services: [], topics }));
    announce([{ topic: "__proto__", service: "x" }]);
    raw.send(
      '{"v":1,"kind":"announce","from":"evil","services":[],"topics":[{"topic":"t","service":"x","__proto__":{}}]}',
    );
    announce(Array.from({ length: 10_001 }, () => ({ topic: "t", service: "x" })));
    raw.send(encodeFrame({ kind: "announce", from: "evil", services: [], topics: [{ topic: "t", service: "x" }] }));
    await cluster.settle();
    expect(rejected).toHaveLength(3);
    expect(cluster.node("pub").topics.remoteSubscriptions()).toEqual({ evil: [{ topic: "t", service: "x" }] });
    await raw.close();
  });
});
