// Fire-and-forget (Spawn's invoke_async): `cast` returns once a provider accepted the message; what
// happens after is reported to telemetry.
import { describe, expect, it } from "vitest";
import {
  createNode,
  defineRouter,
  encodeFrame,
  Message,
  noReply,
  type Provider,
  Response,
  type TelemetryEvent,
} from "../../src/index.ts";
import { createCluster, gate } from "./fixtures.ts";

/** Tries providers in the order of `ids`. */
const inOrder =
  (...ids: string[]) =>
  (providers: readonly Provider[]) =>
    [...providers].sort((a, b) => ids.indexOf(a.node) - ids.indexOf(b.node));

/** A router whose `work` waits for `release` before it answers, and records that it finished. */
function slowWorker(name: string, release: Promise<void>, finished: string[]) {
  return defineRouter({
    name,
    services: {
      work: async (msg) => {
        await release;
        finished.push(name);
        return msg.ok(name);
      },
    },
    authorize: (msg) => msg.assigns.user !== undefined,
  });
}

function collect(node: ReturnType<typeof createNode>, name: TelemetryEvent["name"]): TelemetryEvent[] {
  const events: TelemetryEvent[] = [];
  node.telemetry.on(name, (event) => events.push(event));
  return events;
}

describe("cast (fire-and-forget)", () => {
  it("resolves once a peer accepted it, before the handler finished, which then still runs", async () => {
    await using cluster = await createCluster(["caller", "worker"]);
    const release = gate();
    const finished: string[] = [];
    cluster.node("worker").register(slowWorker("worker", release.opened, finished));
    await cluster.settle();
    const result = await cluster.node("caller").cast(Message.new("work").assign("user", "ada"));
    expect(result).toEqual({ accepted: true, node: "worker" });
    expect(finished).toEqual([]);
    release.open();
    await cluster.settle();
    expect(finished).toEqual(["worker"]);
  });

  it("a local provider accepts the same way", async () => {
    const node = createNode({ announceIntervalMs: 0 });
    const release = gate();
    const finished: string[] = [];
    node.register(slowWorker("solo", release.opened, finished));
    expect(await node.cast(Message.new("work").assign("user", "ada"))).toEqual({ accepted: true, node: "local" });
    expect(finished).toEqual([]);
    release.open();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(finished).toEqual(["solo"]);
    await node.close();
  });

  it("a refusal by the router is not an acceptance: the caller gets the answer and cast_rejected", async () => {
    await using cluster = await createCluster(["caller", "worker"]);
    cluster.node("worker").register(slowWorker("worker", Promise.resolve(), []));
    await cluster.settle();
    const rejected = collect(cluster.node("caller"), "cast_rejected");
    const result = await cluster.node("caller").cast(Message.new("work"));
    expect(result).toEqual({ accepted: false, response: { status: "error", reason: "forbidden", denied: true } });
    expect(rejected.map((e) => e.metadata.response)).toEqual([{ status: "error", reason: "forbidden", denied: true }]);
  });

  it("without any provider: service_unavailable, reported as cast_rejected", async () => {
    const node = createNode({ id: "alone", announceIntervalMs: 0 });
    const rejected = collect(node, "cast_rejected");
    expect(await node.cast(Message.new("nobody"))).toEqual({
      accepted: false,
      response: { status: "service_unavailable", service: "nobody", unknown: true },
    });
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.metadata).toMatchObject({ callerNode: "alone" });
    await node.close();
  });

  it("tries the next provider when one declines (draining) or is gone, and reports every one when all do", async () => {
    await using cluster = await createCluster(["caller", "draining", "crashed", "ok"], {
      nodeOrder: inOrder("draining", "crashed", "ok"),
    });
    const reached = gate();
    cluster.node("draining").register(
      defineRouter({
        name: "draining",
        services: { work: () => noReply, hang: () => new Promise<never>(() => {}) },
        authorize: () => true,
      }),
    );
    cluster.node("crashed").register(
      defineRouter({
        name: "crashed",
        services: { work: () => noReply },
        // It crashes while its router is still deciding: the acknowledgement never comes.
        authorize: async () => {
          reached.open();
          await new Promise(() => {});
        },
      }),
    );
    const finished: string[] = [];
    cluster.node("ok").register(slowWorker("ok", Promise.resolve(), finished));
    await cluster.settle();
    // "draining" is busy with a call, drains, and its drain frame is lost: the caller still chooses it.
    cluster.hub.intercept((frame) => (frame.text.includes('"kind":"drain"') ? null : frame.text));
    void cluster.node("caller").dispatch(Message.new("hang"));
    await cluster.settle();
    void cluster.node("draining").drain();
    const casting = cluster.node("caller").cast(Message.new("work").assign("user", "ada"));
    await reached.opened;
    cluster.hub.disconnect("crashed");
    expect(await casting).toEqual({ accepted: true, node: "ok" });
    await cluster.settle();
    expect(finished).toEqual(["ok"]);

    await cluster.node("ok").close();
    await cluster.settle();
    expect(await cluster.node("caller").cast(Message.new("work"))).toEqual({
      accepted: false,
      response: { status: "no_nodes_available", tried: [{ node: "draining", reason: "draining" }] },
    });
  });

  it("a handler's own try_another_node comes after the acceptance: it is a cast_failed, not a redirect", async () => {
    await using cluster = await createCluster(["caller", "quorum"]);
    cluster.node("quorum").register(
      defineRouter({
        name: "quorum",
        services: { work: (msg) => msg.return(Response.tryAnotherNode("quorum_not_met")) },
        authorize: () => true,
      }),
    );
    await cluster.settle();
    const failed = collect(cluster.node("quorum"), "cast_failed");
    expect(await cluster.node("caller").cast(Message.new("work"))).toEqual({ accepted: true, node: "quorum" });
    await cluster.settle();
    expect(failed.map((e) => e.metadata.response)).toEqual([{ status: "try_another_node", reason: "quorum_not_met" }]);
  });

  it("a handler that fails after accepting is reported as cast_failed on the node that ran it", async () => {
    await using cluster = await createCluster(["caller", "worker"]);
    cluster.node("worker").register(
      defineRouter({
        name: "failing",
        services: {
          explode: () => {
            throw new Error("boom");
          },
          overdrawn: async (msg) => msg.error("insufficient_funds"),
          fine: (msg) => msg.ok(),
        },
        authorize: () => true,
      }),
    );
    await cluster.settle();
    const failed = collect(cluster.node("worker"), "cast_failed");
    const handlerFailed = collect(cluster.node("worker"), "handler_failed");
    for (const service of ["explode", "overdrawn", "fine"]) {
      expect(await cluster.node("caller").cast(Message.new(service))).toEqual({ accepted: true, node: "worker" });
    }
    await cluster.settle();
    expect(failed.map((e) => [e.metadata.service, e.metadata.response])).toEqual([
      ["explode", { status: "error", reason: { exception: { name: "Error", message: "boom" } } }],
      ["overdrawn", { status: "error", reason: "insufficient_funds" }],
    ]);
    expect(failed[0]?.metadata).toMatchObject({ node: "worker" });
    expect(handlerFailed).toHaveLength(1);
  });

  it("no acknowledgement in time: service_timeout (the message may still run)", async () => {
    await using cluster = await createCluster(["caller", "worker"]);
    cluster.node("worker").register(slowWorker("worker", Promise.resolve(), []));
    await cluster.settle();
    cluster.hub.intercept((frame) => (frame.text.includes('"kind":"accepted"') ? null : frame.text));
    const casting = cluster.node("caller").cast(Message.new("work").assign("user", "ada"), { timeoutMs: 500 });
    await cluster.clock.advance(500);
    expect(await casting).toEqual({
      accepted: false,
      response: { status: "service_timeout", service: "work", messageId: expect.any(String), timeoutMs: 500 },
    });
  });

  it("an `accepted` frame cannot end a call that awaits its reply, nor a cast sent to another node", async () => {
    await using cluster = await createCluster(["caller", "worker"]);
    const release = gate();
    cluster.node("worker").register(slowWorker("worker", release.opened, []));
    await cluster.settle();
    const attempts: string[] = [];
    cluster.hub.intercept((frame) => {
      const parsed = JSON.parse(frame.text) as { kind: string; attemptId?: string };
      if (parsed.kind === "request" && parsed.attemptId) attempts.push(parsed.attemptId);
      return parsed.kind === "accepted" ? null : frame.text; // the real acknowledgement is held back
    });
    const dropped = collect(cluster.node("caller"), "late_reply_dropped");
    const calling = cluster.node("caller").dispatch(Message.new("work").assign("user", "ada"));
    let castResult: unknown;
    void cluster
      .node("caller")
      .cast(Message.new("work").assign("user", "ada"))
      .then((result) => {
        castResult = result;
      });
    await cluster.settle();
    const [callAttempt, castAttempt] = attempts as [string, string];
    cluster.hub.inject("caller", encodeFrame({ kind: "accepted", from: "worker", attemptId: callAttempt }));
    cluster.hub.inject("caller", encodeFrame({ kind: "accepted", from: "liar", attemptId: castAttempt }));
    await cluster.settle();
    expect(dropped).toHaveLength(2);
    expect(castResult).toBeUndefined();
    cluster.hub.inject("caller", encodeFrame({ kind: "accepted", from: "worker", attemptId: castAttempt }));
    await cluster.settle();
    expect(castResult).toEqual({ accepted: true, node: "worker" });
    release.open();
    expect((await calling).response).toEqual({ status: "ok", payload: "worker" });
  });

  it("a halted message is never cast", async () => {
    const node = createNode({ announceIntervalMs: 0 });
    const halted = Message.new("work").error("already_failed");
    expect(await node.cast(halted)).toEqual({
      accepted: false,
      response: { status: "error", reason: "already_failed" },
    });
    await node.close();
  });
});
