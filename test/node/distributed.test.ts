import { describe, expect, it } from "vitest";
import {
  createInProcessHub,
  createNode,
  defineRouter,
  encodeFrame,
  type Message,
  Message as MessageClass,
  noReply,
  type Provider,
  Response,
  type TelemetryEvent,
} from "../../src/index.ts";
import { createCluster, firstRouter } from "./fixtures.ts";

const Msg = MessageClass;

/** A router whose one service answers with the node it ran on, or asks for another node. */
function quorumRouter(node: string, accept: boolean) {
  return defineRouter({
    name: `quorum_${node}`,
    services: {
      commit: (msg: Message) =>
        accept ? msg.ok({ from: node }) : msg.return(Response.tryAnotherNode("quorum_not_met")),
    },
    authorize: () => true,
  });
}

/** Tries providers in the order of `ids` (deterministic tests of try-another-node). */
const inOrder =
  (...ids: string[]) =>
  (providers: readonly Provider[]) =>
    [...providers].sort((a, b) => ids.indexOf(a.node) - ids.indexOf(b.node));

describe("dispatch across nodes", () => {
  it("reaches a service hosted only on a peer", async () => {
    await using cluster = await createCluster(["caller", "provider"]);
    cluster.node("provider").register(firstRouter);
    await cluster.settle();
    const reply = await cluster.node("caller").dispatch(Msg.new("first"));
    expect(reply.response).toEqual({ status: "ok", payload: "from_first" });
    expect(cluster.node("caller").discover(Msg.new("first"))).toEqual([{ node: "provider", router: "first_router" }]);
  });

  it("ends in no_nodes_available with every node and its reason when all peers ask for another node", async () => {
    await using cluster = await createCluster(["caller", "p1", "p2"]);
    cluster.node("p1").register(quorumRouter("p1", false));
    cluster.node("p2").register(quorumRouter("p2", false));
    await cluster.settle();
    const reply = await cluster.node("caller").dispatch(Msg.new("commit"));
    expect(reply.response?.status).toBe("no_nodes_available");
    const tried = Response.isNoNodesAvailable(reply.response) ? reply.response.tried : [];
    expect([...tried].sort((a, b) => a.node.localeCompare(b.node))).toEqual([
      { node: "p1", reason: "quorum_not_met" },
      { node: "p2", reason: "quorum_not_met" },
    ]);
  });

  it.each([
    ["rejecting first", ["rejecting", "accepting"]],
    ["accepting first", ["accepting", "rejecting"]],
  ])("with one peer rejecting and one accepting, the accepting peer answers (%s)", async (_, order) => {
    await using cluster = await createCluster(["caller", "rejecting", "accepting"], { nodeOrder: inOrder(...order) });
    cluster.node("rejecting").register(quorumRouter("rejecting", false));
    cluster.node("accepting").register(quorumRouter("accepting", true));
    await cluster.settle();
    const reply = await cluster.node("caller").dispatch(Msg.new("commit"));
    expect(reply.response).toEqual({ status: "ok", payload: { from: "accepting" } });
  });

  it("gives the next provider a fresh, un-halted message (the original forwarded the halted one)", async () => {
    await using cluster = await createCluster(["caller", "p1", "p2"], { nodeOrder: inOrder("p1", "p2") });
    const seen: Array<{ halted: boolean; response: unknown; events: readonly unknown[] }> = [];
    const aggregateLike = (name: string, accept: boolean) =>
      defineRouter({
        name,
        services: {
          deposit: (msg) => {
            seen.push({ halted: msg.halted, response: msg.response, events: msg.events });
            if (msg.halted) return msg; // what an aggregate host does with a halted message
            return accept
              ? msg.addEvent("Deposited").ok("done")
              : msg.addEvent("Partial").return(Response.tryAnotherNode("busy"));
          },
        },
        authorize: () => true,
      });
    cluster.node("p1").register(aggregateLike("r1", false));
    cluster.node("p2").register(aggregateLike("r2", true));
    await cluster.settle();
    const reply = await cluster.node("caller").dispatch(Msg.new("deposit"));
    expect(reply.response).toEqual({ status: "ok", payload: "done" });
    expect(seen).toEqual([
      { halted: false, response: null, events: [] },
      { halted: false, response: null, events: [] },
    ]);
  });

  it("introduces the public services of every router a node registered", async () => {
    await using cluster = await createCluster(["a", "b"]);
    const second = defineRouter({
      name: "second_router",
      services: { second: (msg) => msg.ok(2) },
      authorize: () => true,
    });
    cluster.node("a").register(firstRouter, second);
    await cluster.settle();
    const remote = cluster.node("b").registry.remoteServices();
    expect(remote.first).toEqual({ a: "first_router" });
    expect(remote.second).toEqual({ a: "second_router" });
  });

  it("announces its services to a node that joins later", async () => {
    await using cluster = await createCluster(["a"]);
    cluster.node("a").register(firstRouter);
    const late = createNode({ id: "late", clock: cluster.clock, announceIntervalMs: 0 });
    await late.connect(cluster.hub.transport());
    await cluster.settle();
    expect((await late.dispatch(Msg.new("first"))).response).toEqual({ status: "ok", payload: "from_first" });
    await late.close();
  });

  it("prefers the local provider over remote ones", async () => {
    await using cluster = await createCluster(["a", "b"]);
    cluster.node("a").register(quorumRouter("a", true));
    cluster.node("b").register(quorumRouter("b", true));
    await cluster.settle();
    for (let i = 0; i < 5; i++) {
      expect((await cluster.node("a").dispatch(Msg.new("commit"))).response).toEqual({
        status: "ok",
        payload: { from: "a" },
      });
    }
  });

  it("answers authorized() from a peer's router", async () => {
    await using cluster = await createCluster(["caller", "provider"]);
    cluster.node("provider").register(firstRouter);
    await cluster.settle();
    const caller = cluster.node("caller");
    expect(await caller.authorized(Msg.new("first"))).toBe(true);
    expect(await caller.authorized(Msg.new("unauthorized_service"))).toBe(false);
    expect(await caller.authorized(Msg.new("admin_only").assign("invokedBy", { admin: true }))).toBe(true);
    expect(await caller.authorized(Msg.new("private_service"))).toBe("service_unavailable");
  });
});

describe("private services", () => {
  it("are never announced and never served over a transport, even to a hand-made request", async () => {
    await using cluster = await createCluster(["caller", "provider"]);
    cluster.node("provider").register(firstRouter);
    await cluster.settle();
    expect(cluster.node("caller").registry.remoteServices().private_service).toBeUndefined();
    expect((await cluster.node("caller").dispatch(Msg.new("private_service"))).response).toEqual({
      status: "service_unavailable",
      service: "private_service",
      unknown: true,
    });

    // A raw peer that skips discovery and asks for the private service directly.
    const received: string[] = [];
    const raw = cluster.hub.transport();
    raw.open({ nodeId: "raw", receive: (text) => received.push(text), peerJoined: () => {}, peerLeft: () => {} });
    const request = Msg.new("private_service");
    raw.send(
      encodeFrame({ kind: "request", from: "raw", attemptId: "x1", op: "invoke", envelope: request }),
      "provider",
    );
    await cluster.settle();
    const reply = received.map((text) => JSON.parse(text)).find((frame) => frame.kind === "reply");
    // Answered as if it were not there at all: a private service's name is not confirmed to a peer.
    expect(reply?.envelope.response).toEqual({
      status: "service_unavailable",
      service: "private_service",
      unknown: true,
    });
    raw.close();
  });
});

describe("nodes that leave", () => {
  it("a provider that drops mid-request fails that attempt at once and the next provider answers", async () => {
    await using cluster = await createCluster(["caller", "hanging", "healthy"], {
      nodeOrder: inOrder("hanging", "healthy"),
    });
    let reached: () => void = () => {};
    const reachedHanging = new Promise<void>((resolve) => {
      reached = resolve;
    });
    cluster.node("hanging").register(
      defineRouter({
        name: "hang",
        services: {
          work: () => {
            reached();
            return noReply;
          },
        },
        authorize: () => true,
      }),
    );
    cluster.node("healthy").register(healthyWork());
    await cluster.settle();
    const pending = cluster.node("caller").dispatch(Msg.new("work"), { timeoutMs: 60_000 });
    await reachedHanging;
    const timeBefore = cluster.clock.now();
    cluster.hub.disconnect("hanging");
    const reply = await pending;
    expect(reply.response).toEqual({ status: "ok", payload: "healthy" });
    expect(cluster.clock.now()).toBe(timeBefore); // no virtual time passed: nothing waited for the timeout
  });

  it("with no other provider, the caller gets no_nodes_available with node_left, promptly", async () => {
    await using cluster = await createCluster(["caller", "hanging"]);
    cluster
      .node("hanging")
      .register(defineRouter({ name: "hang", services: { work: () => noReply }, authorize: () => true }));
    await cluster.settle();
    const pending = cluster.node("caller").dispatch(Msg.new("work"));
    await cluster.settle();
    cluster.hub.disconnect("hanging");
    expect((await pending).response).toEqual({
      status: "no_nodes_available",
      tried: [{ node: "hanging", reason: "node_left" }],
    });
    expect(cluster.node("caller").discover(Msg.new("work"))).toEqual([]);
  });

  it("a node that closes tells its peers, which drop its services", async () => {
    await using cluster = await createCluster(["a", "b"]);
    cluster.node("a").register(firstRouter);
    await cluster.settle();
    expect(cluster.node("b").discover(Msg.new("first"))).toHaveLength(1);
    const left: TelemetryEvent[] = [];
    cluster.node("b").telemetry.on("node_left", (e) => left.push(e));
    await cluster.node("a").close();
    await cluster.settle();
    expect(cluster.node("b").discover(Msg.new("first"))).toEqual([]);
    expect(cluster.node("b").peers()).toEqual([]);
    expect(left.map((e) => e.metadata.node)).toEqual(["a"]);
  });
});

function healthyWork() {
  return defineRouter({ name: "healthy", services: { work: (msg) => msg.ok("healthy") }, authorize: () => true });
}

describe("announcements", () => {
  it("re-announces periodically, healing a lost announcement", async () => {
    await using cluster = await createCluster(["a", "b"], { announceIntervalMs: 20_000 });
    cluster.hub.intercept((frame) => (frame.text.includes('"kind":"announce"') ? null : frame.text));
    cluster.node("a").register(firstRouter);
    await cluster.settle();
    expect(cluster.node("b").discover(Msg.new("first"))).toEqual([]);
    cluster.hub.intercept(undefined);
    await cluster.clock.advance(19_999);
    expect(cluster.node("b").discover(Msg.new("first"))).toEqual([]);
    await cluster.clock.advance(1);
    expect(cluster.node("b").discover(Msg.new("first"))).toEqual([{ node: "a", router: "first_router" }]);
  });

  it("a later announcement replaces the node's list (services it stopped offering disappear)", async () => {
    await using cluster = await createCluster(["a", "b"]);
    cluster.node("a").register(firstRouter);
    await cluster.settle();
    const raw = cluster.hub.transport();
    raw.open({ nodeId: "c", receive: () => {}, peerJoined: () => {}, peerLeft: () => {} });
    raw.send(encodeFrame({ kind: "announce", from: "c", services: [{ name: "x", router: "r" }] }));
    await cluster.settle();
    expect(cluster.node("b").discover(Msg.new("x"))).toEqual([{ node: "c", router: "r" }]);
    raw.send(encodeFrame({ kind: "announce", from: "c", services: [] }));
    await cluster.settle();
    expect(cluster.node("b").discover(Msg.new("x"))).toEqual([]);
    raw.close();
  });
});

describe("replies are matched per attempt", () => {
  it("a late reply is dropped and counted, and never satisfies a later dispatch of the same message", async () => {
    await using cluster = await createCluster(["caller", "provider"]);
    const gates: Array<() => void> = [];
    cluster.node("provider").register(
      defineRouter({
        name: "slow",
        services: {
          slow: async (msg) => {
            const call = gates.length;
            await new Promise<void>((resolve) => gates.push(resolve));
            return msg.ok(`reply ${call}`);
          },
        },
        authorize: () => true,
      }),
    );
    await cluster.settle();
    const caller = cluster.node("caller");
    const late: TelemetryEvent[] = [];
    caller.telemetry.on("late_reply_dropped", (e) => late.push(e));
    const msg = Msg.new("slow");
    const first = caller.dispatch(msg, { timeoutMs: 100 });
    await cluster.clock.advance(100);
    expect((await first).response?.status).toBe("service_timeout");

    const second = caller.dispatch(msg, { timeoutMs: 1_000 });
    await cluster.settle();
    gates[0]?.(); // the first attempt's reply arrives now, while the second attempt waits
    await cluster.settle();
    expect(late).toHaveLength(1);
    gates[1]?.();
    expect((await second).response).toEqual({ status: "ok", payload: "reply 1" });
  });

  it("a reply delivered twice at once settles its attempt once; the copy is dropped and counted", async () => {
    await using cluster = await createCluster(["caller", "provider"]);
    cluster
      .node("provider")
      .register(defineRouter({ name: "echo", services: { echo: (msg) => msg.ok("pong") }, authorize: () => true }));
    await cluster.settle();
    const caller = cluster.node("caller");
    const late: TelemetryEvent[] = [];
    caller.telemetry.on("late_reply_dropped", (e) => late.push(e));
    cluster.hub.intercept((frame) => (frame.text.includes('"kind":"reply"') ? [frame.text, frame.text] : frame.text));
    expect((await caller.dispatch(Msg.new("echo"))).response).toEqual({ status: "ok", payload: "pong" });
    await cluster.settle();
    expect(late).toHaveLength(1);
  });
});

describe("oversize payloads", () => {
  it("an oversize request is refused with a typed error before it is sent", async () => {
    await using cluster = await createCluster(["caller", "provider"], { maxFrameBytes: 4_096 });
    let calls = 0;
    cluster.node("provider").register(
      defineRouter({
        name: "sink",
        services: {
          sink: (msg) => {
            calls++;
            return msg.ok();
          },
        },
        authorize: () => true,
      }),
    );
    await cluster.settle();
    const reply = await cluster.node("caller").dispatch(Msg.new("sink", { rawRequest: { blob: "x".repeat(10_000) } }));
    expect(reply.response).toMatchObject({ status: "error", reason: { code: "FRAME_TOO_LARGE" } });
    expect(calls).toBe(0);
  });

  it("an oversize reply reaches the caller as a typed error instead of a timeout", async () => {
    await using cluster = await createCluster(["caller", "provider"], { maxFrameBytes: 4_096 });
    cluster
      .node("provider")
      .register(
        defineRouter({ name: "big", services: { big: (msg) => msg.ok("y".repeat(10_000)) }, authorize: () => true }),
      );
    await cluster.settle();
    const reply = await cluster.node("caller").dispatch(Msg.new("big"));
    expect(reply.response).toMatchObject({ status: "error", reason: { code: "FRAME_TOO_LARGE" } });
  });
});

describe("chooseNode", () => {
  it("forwards the call to the node the router chooses, which serves it without choosing again", async () => {
    await using cluster = await createCluster(["caller", "front", "home"], { nodeOrder: inOrder("front", "home") });
    const makeRouter = (self: string) =>
      defineRouter({
        name: "accounts",
        services: { deposit: (msg) => msg.ok({ ranOn: self }) },
        authorize: () => true,
        chooseNode: () => "home",
      });
    cluster.node("front").register(makeRouter("front"));
    cluster.node("home").register(makeRouter("home"));
    await cluster.settle();
    const reply = await cluster.node("caller").dispatch(Msg.new("deposit"));
    expect(reply.response).toEqual({ status: "ok", payload: { ranOn: "home" } });
  });

  it("a forward to an unknown node answers with a forward_failed error", async () => {
    await using cluster = await createCluster(["caller", "front"]);
    cluster.node("front").register(
      defineRouter({
        name: "lost",
        services: { lost: (msg) => msg.ok() },
        authorize: () => true,
        chooseNode: () => "nowhere",
      }),
    );
    await cluster.settle();
    const reply = await cluster.node("caller").dispatch(Msg.new("lost"));
    expect(reply.response).toMatchObject({ status: "error", reason: { code: "forward_failed", node: "nowhere" } });
  });
});

describe("spoofing", () => {
  it("a peer cannot speak for another: frames whose from differs from the hub's sender are dropped", async () => {
    await using cluster = await createCluster(["a", "b"]);
    cluster.node("a").register(firstRouter);
    await cluster.settle();
    const rejected: TelemetryEvent[] = [];
    cluster.node("b").telemetry.on("frame_rejected", (e) => rejected.push(e));
    const mallory = cluster.hub.transport();
    mallory.open({ nodeId: "mallory", receive: () => {}, peerJoined: () => {}, peerLeft: () => {} });
    mallory.send(encodeFrame({ kind: "leave", from: "a" }), "b");
    mallory.send(
      encodeFrame({ kind: "announce", from: "phantom", services: [{ name: "first", router: "evil" }] }),
      "b",
    );
    await cluster.settle();
    expect(rejected).toHaveLength(2);
    expect(cluster.node("b").peers().sort()).toEqual(["a", "mallory"]);
    expect(cluster.node("b").discover(Msg.new("first"))).toEqual([{ node: "a", router: "first_router" }]);
    mallory.close();
  });
});

describe("review regressions", () => {
  it("close() during connect leaves nothing on the hub and rejects with NODE_CLOSED", async () => {
    const hub = createInProcessHub();
    const node = createNode({ id: "a", announceIntervalMs: 0 });
    const connecting = node.connect(hub.transport());
    const closing = node.close();
    await expect(connecting).rejects.toMatchObject({ code: "NODE_CLOSED" });
    await closing;
    expect(hub.nodes()).toEqual([]);
  });

  it("a node id known on one transport cannot be replaced from another transport", async () => {
    const hub1 = createInProcessHub();
    const hub2 = createInProcessHub();
    const server = createNode({ id: "s", announceIntervalMs: 0 });
    const caller = createNode({ id: "c", announceIntervalMs: 0 });
    server.register(defineRouter({ name: "pay", services: { pay: (msg) => msg.ok("paid") }, authorize: () => true }));
    await server.connect(hub1.transport());
    await caller.connect(hub1.transport());
    await caller.connect(hub2.transport());
    await settleAll();
    const impostor = createNode({ id: "s", announceIntervalMs: 0 });
    await impostor.connect(hub2.transport());
    await settleAll();
    expect((await caller.dispatch(Msg.new("pay"))).response).toEqual({ status: "ok", payload: "paid" });
    await Promise.all([server.close(), caller.close(), impostor.close()]);
  });
});

async function settleAll(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
}

describe("watching peers", () => {
  it("tells joined, offered (again on every change), draining and left, as they happen; a throwing watcher harms nothing", async () => {
    const hub = createInProcessHub();
    const watcher = createNode({ id: "watcher", announceIntervalMs: 0 });
    const changes: string[] = [];
    watcher.watchPeers(() => {
      throw new Error("a careless watcher");
    });
    const stop = watcher.watchPeers((change) =>
      changes.push(
        change.kind === "offered"
          ? `offered ${change.node}: ${change.services.map((s) => s.name).join(",")}`
          : change.kind === "left"
            ? `left ${change.node} (${change.reason})`
            : `${change.kind} ${change.node}`,
      ),
    );
    await watcher.connect(hub.transport());
    const peer = createNode({ id: "peer", announceIntervalMs: 0 });
    await peer.connect(hub.transport());
    await new Promise((resolve) => setTimeout(resolve, 0));
    peer.register(
      defineRouter({ name: "r", services: { one: (m) => m.ok(), two: (m) => m.ok() }, authorize: () => true }),
    );
    await new Promise((resolve) => setTimeout(resolve, 0));
    await peer.drain({ timeoutMs: 0 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(changes).toEqual([
      "joined peer",
      "offered peer: ",
      "offered peer: one,two",
      "draining peer",
      "left peer (node_left)",
    ]);
    stop();
    const other = createNode({ id: "other", announceIntervalMs: 0 });
    await other.connect(hub.transport());
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(changes).toHaveLength(5); // unsubscribed: told nothing more
    await Promise.all([watcher.close(), other.close()]);
  });
});
