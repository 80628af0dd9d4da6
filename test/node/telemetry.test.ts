import { describe, expect, it } from "vitest";
import { createNode, createTelemetry, Message, type TelemetryEvent } from "../../src/index.ts";
import { createCluster, firstRouter } from "./fixtures.ts";

function recordingNode() {
  const node = createNode({ id: "n1", announceIntervalMs: 0 });
  const events: TelemetryEvent[] = [];
  node.telemetry.on("*", (event) => events.push(event));
  node.register(firstRouter);
  events.length = 0;
  return { node, events, names: () => events.map((e) => e.name) };
}

describe("telemetry", () => {
  it("a local dispatch emits the original's sequence", async () => {
    const { node, events, names } = recordingNode();
    await node.dispatch(Message.new("first"));
    expect(names().slice(0, 5)).toEqual([
      "discovering_service",
      "service_found",
      "invoking_service",
      "service_request_received",
      "executing_service",
    ]);
    expect(new Set(names().slice(5))).toEqual(new Set(["execution_finished", "service_responded"]));
    for (const event of events) {
      for (const value of Object.values(event.measurements)) expect(Number.isInteger(value)).toBe(true);
    }
    const responded = events.find((e) => e.name === "service_responded");
    expect(responded?.metadata).toMatchObject({ callerNode: "n1", serviceNode: "local" });
    expect((responded?.metadata.message as Message | undefined)?.response).toEqual({
      status: "ok",
      payload: "from_first",
    });
    expect(responded?.measurements).toHaveProperty("duration");
    expect(events.find((e) => e.name === "service_request_received")?.metadata).toEqual({
      service: "first",
      visibility: "public",
      originNode: "n1",
    });
  });

  it("a dispatch to an unknown service emits discovering_service then service_not_found only", async () => {
    const { node, names } = recordingNode();
    await node.dispatch(Message.new("nope"));
    expect(names()).toEqual(["discovering_service", "service_not_found"]);
  });

  it("validate emits the dispatch sequence and service_responded carries dryRun true", async () => {
    const { node, events, names } = recordingNode();
    await node.validate(Message.new("first"));
    expect(names()).toContain("service_responded");
    const responded = events.find((e) => e.name === "service_responded");
    expect((responded?.metadata.message as Message | undefined)?.dryRun).toBe(true);
    events.length = 0;
    await node.validate(Message.new("nope"));
    expect(names()).toEqual(["discovering_service", "service_not_found"]);
  });

  it("authorized emits checking_if_service_call_is_authorized only, found or not", async () => {
    const { node, events, names } = recordingNode();
    await node.authorized(Message.new("first"));
    await node.authorized(Message.new("nope"));
    expect(names()).toEqual(["checking_if_service_call_is_authorized", "checking_if_service_call_is_authorized"]);
    expect(events[0]?.metadata).toMatchObject({ callerNode: "n1" });
  });

  it("register_local_services carries the public and private maps", () => {
    const node = createNode({ announceIntervalMs: 0 });
    const events: TelemetryEvent[] = [];
    node.telemetry.on("register_local_services", (e) => events.push(e));
    node.register(firstRouter);
    expect(events[0]?.metadata).toEqual({
      public: {
        first: "first_router",
        unauthorized_service: "first_router",
        custom_unauthorized: "first_router",
        admin_only: "first_router",
        quorum: "first_router",
      },
      private: { private_service: "first_router" },
    });
  });

  it("reports peers joining and leaving", async () => {
    await using cluster = await createCluster(["a"]);
    const seen: string[] = [];
    cluster.node("a").telemetry.on("*", (e) => {
      if (e.name === "node_joined" || e.name === "node_left") seen.push(`${e.name}:${e.metadata.node}`);
    });
    const b = createNode({ id: "b", clock: cluster.clock, announceIntervalMs: 0 });
    await b.connect(cluster.hub.transport());
    await cluster.settle();
    await b.close();
    await cluster.settle();
    expect(seen).toEqual(["node_joined:b", "node_left:b"]);
  });

  it("a throwing handler cannot break a dispatch; unsubscribing stops delivery", async () => {
    const telemetry = createTelemetry();
    const node = createNode({ telemetry, announceIntervalMs: 0 });
    node.register(firstRouter);
    const off = telemetry.on("*", () => {
      throw new Error("broken exporter");
    });
    expect((await node.dispatch(Message.new("first"))).response).toEqual({ status: "ok", payload: "from_first" });
    let count = 0;
    const offCount = telemetry.on("service_found", () => count++);
    off();
    offCount();
    expect(telemetry.active).toBe(false);
    await node.dispatch(Message.new("first"));
    expect(count).toBe(0);
  });
});
