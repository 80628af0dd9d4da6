// The BroadcastChannel transport on Node's own BroadcastChannel and Web Locks: the transport contract,
// nodes dispatching through it, hostile posts on the channel, and how vanished peers are noticed.
// The same transport runs in real Chromium tabs in test/browser/tabs.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import { broadcastChannelTransport } from "../../adapters/broadcast-channel/index.ts";
import { createNode, defineRouter, Message, type SystemNode, type TelemetryEvent } from "../../src/index.ts";
import { transportContract, VirtualClock } from "../../src/testing/index.ts";
import { gate, settle } from "./fixtures.ts";

let channelCount = 0;
const freshChannel = () => `x3m-test-${process.pid}-${++channelCount}`;
const open: SystemNode[] = [];
const rawChannels: BroadcastChannel[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((node) => node.close()));
  for (const channel of rawChannels.splice(0)) channel.close();
});

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
}

async function nodeOn(
  channel: string,
  id: string,
  extra: Parameters<typeof broadcastChannelTransport>[0] | object = {},
) {
  const node = createNode({ id, announceIntervalMs: 0 });
  open.push(node);
  await node.connect(broadcastChannelTransport({ channel, pageLifecycle: null, ...extra }));
  return node;
}

const echo = (name: string) =>
  defineRouter({
    name: `echo-${name}`,
    services: { echo: (msg) => msg.ok(name) },
    privateServices: { secret: (msg) => msg.ok("private") },
    authorize: () => true,
  });

describe("transport contract: BroadcastChannel (Node)", () => {
  for (const contractCase of transportContract(() => {
    const channel = freshChannel();
    const transports = [0, 1, 2].map(() => broadcastChannelTransport({ channel, pageLifecycle: null }));
    return { transports, dispose: () => Promise.all(transports.map((t) => t.close())).then(() => {}) };
  })) {
    it(contractCase.name, () => contractCase.run());
  }
});

describe("nodes over a BroadcastChannel", () => {
  it("dispatches to another node's public services, never to its private ones", async () => {
    const channel = freshChannel();
    const provider = await nodeOn(channel, "provider");
    provider.register(echo("provider"));
    const caller = await nodeOn(channel, "caller");
    await eventually(() => caller.discover(Message.new("echo")).length === 1, "the caller learned the service");
    expect((await caller.dispatch(Message.new("echo"))).response).toEqual({ status: "ok", payload: "provider" });
    // A private service is never announced: the caller has never heard of it.
    expect((await caller.dispatch(Message.new("secret"))).response).toEqual({
      status: "service_unavailable",
      service: "secret",
      unknown: true,
    });
  });

  it("garbage posted on the channel by another page is rejected and reported, and the nodes keep working", async () => {
    const channel = freshChannel();
    const provider = await nodeOn(channel, "provider");
    let handled = 0;
    provider.register(
      defineRouter({
        name: "counted",
        services: { count: (msg) => msg.ok(++handled) },
        authorize: () => true,
      }),
    );
    const caller = await nodeOn(channel, "caller");
    const rejected: TelemetryEvent[] = [];
    provider.telemetry.on("frame_rejected", (event) => rejected.push(event));
    await eventually(() => caller.discover(Message.new("count")).length === 1, "the caller learned the service");

    const rogue = new BroadcastChannel(channel);
    rawChannels.push(rogue);
    const request = (envelope: unknown) => ({ x3m: 1, kind: "frame", from: "rogue", to: "provider", text: envelope });
    const hostile: unknown[] = [
      "not json",
      42,
      null,
      { x3m: 1, kind: "frame", from: "rogue" },
      { x3m: 1, kind: "nuke", from: "rogue" },
      request('{"v":1,"kind":"request","from":"rogue"}'),
      request('{"__proto__":{"polluted":true},"v":1,"kind":"announce","from":"rogue","services":[]}'),
      request(JSON.stringify({ v: 1, kind: "request", from: "caller", attemptId: "x", op: "invoke", envelope: {} })),
      request("x".repeat(2 * 1024 * 1024)),
    ];
    for (const data of hostile) rogue.postMessage(data);
    await eventually(() => rejected.length >= 7, "the provider reported the hostile frames");
    expect(handled).toBe(0);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect((await caller.dispatch(Message.new("count"))).response).toEqual({ status: "ok", payload: 1 });
  });

  it("a node never receives its own frames, even with another node of the same channel in the same context", async () => {
    const channel = freshChannel();
    const a = await nodeOn(channel, "a");
    const b = await nodeOn(channel, "b");
    a.register(echo("a"));
    b.register(echo("b"));
    await eventually(() => a.peers().includes("b") && b.peers().includes("a"), "a and b met");
    // Each answers locally first: its own service, not the peer's.
    expect((await a.dispatch(Message.new("echo"))).response).toEqual({ status: "ok", payload: "a" });
    expect((await b.dispatch(Message.new("echo"))).response).toEqual({ status: "ok", payload: "b" });
  });

  it("a provider that closes mid-request fails the attempt at once and the caller moves to the next provider", async () => {
    const channel = freshChannel();
    const slow = gate();
    const doomed = await nodeOn(channel, "doomed");
    doomed.register(
      defineRouter({
        name: "doomed",
        services: {
          work: async (msg) => {
            await slow.opened;
            return msg.ok("doomed");
          },
        },
        authorize: () => true,
      }),
    );
    const healthy = await nodeOn(channel, "healthy");
    healthy.register(
      defineRouter({ name: "healthy", services: { work: (msg) => msg.ok("healthy") }, authorize: () => true }),
    );
    const caller = await nodeOn(channel, "caller");
    await eventually(() => caller.discover(Message.new("work")).length === 2, "the caller knows both providers");
    const reply = caller.dispatch(Message.new("work"), {
      timeoutMs: 60_000,
      nodeOrder: (providers) => [...providers].sort((p) => (p.node === "doomed" ? -1 : 1)),
    });
    await settle();
    await doomed.close();
    // No 60 s timeout: the leave is heard and the healthy provider answers.
    expect((await reply).response).toEqual({ status: "ok", payload: "healthy" });
    slow.open();
  });

  it("a peer that dies without a word is dropped through its Web Lock, with no timer", async () => {
    const channel = freshChannel();
    const caller = await nodeOn(channel, "caller", { heartbeatMs: 3_600_000 });
    const left: string[] = [];
    caller.telemetry.on("node_left", (event) => left.push(String(event.metadata.node)));
    // A "peer" that announces itself but holds no life lock: as if its tab had crashed right after.
    const ghost = new BroadcastChannel(channel);
    rawChannels.push(ghost);
    ghost.postMessage({ x3m: 1, kind: "hello", from: "ghost" });
    await eventually(() => left.includes("ghost"), "the caller dropped the ghost");
  });

  it("a frozen peer (alive lock, no answers) is probed after peerTimeoutMs and dropped one heartbeat later", async () => {
    const channel = freshChannel();
    const clock = new VirtualClock();
    const caller = await nodeOn(channel, "caller", { clock, locks: null, heartbeatMs: 1_000, peerTimeoutMs: 3_000 });
    const frozen = new BroadcastChannel(channel);
    rawChannels.push(frozen);
    const probes: unknown[] = [];
    frozen.addEventListener("message", (event) => {
      if ((event.data as { kind?: string }).kind === "probe") probes.push(event.data);
    });
    frozen.postMessage({ x3m: 1, kind: "hello", from: "frozen" });
    await eventually(() => caller.peers().includes("frozen"), "the caller met the frozen peer");
    await clock.advance(2_000);
    expect(caller.peers()).toContain("frozen");
    await clock.advance(1_000);
    await eventually(() => probes.length === 1, "the frozen peer was probed");
    expect(caller.peers()).toContain("frozen");
    await clock.advance(1_000);
    expect(caller.peers()).not.toContain("frozen");
  });

  it("a silent but live peer answers the probe and stays", async () => {
    const channel = freshChannel();
    const clock = new VirtualClock();
    const caller = await nodeOn(channel, "caller", { clock, locks: null, heartbeatMs: 1_000, peerTimeoutMs: 3_000 });
    // Its own heartbeat timer never fires (a throttled background tab), but it answers probes from the event.
    await nodeOn(channel, "background", { clock: new VirtualClock(), locks: null, heartbeatMs: 1_000 });
    await eventually(() => caller.peers().includes("background"), "the caller met the background node");
    for (let i = 0; i < 10; i++) {
      await clock.advance(1_000);
      await settle();
    }
    expect(caller.peers()).toContain("background");
  });

  it("a hung peer that resumes after being dropped comes back with its services, without waiting for a re-announce", async () => {
    const channel = freshChannel();
    const clock = new VirtualClock();
    const liveness = { clock, locks: null, heartbeatMs: 1_000, peerTimeoutMs: 3_000 };
    let hung = false;
    // B's channel: while "hung" it neither hears nor says anything (a blocked main thread).
    class HangingChannel {
      private readonly inner: BroadcastChannel;
      constructor(name: string) {
        this.inner = new BroadcastChannel(name);
      }
      postMessage(message: unknown) {
        if (!hung) this.inner.postMessage(message);
      }
      addEventListener(type: "message", listener: (event: { data: unknown }) => void) {
        this.inner.addEventListener(type, (event) => {
          if (!hung) listener(event);
        });
      }
      close() {
        this.inner.close();
      }
    }
    const a = await nodeOn(channel, "a", liveness);
    // B's timers stand still while it hangs (its own clock), so it never drops A meanwhile.
    const bClock = new VirtualClock();
    const b = await nodeOn(channel, "b", { ...liveness, clock: bClock, BroadcastChannel: HangingChannel });
    b.register(echo("b"));
    await eventually(() => a.discover(Message.new("echo")).length === 1, "a learned b's service");
    hung = true;
    for (let i = 0; i < 5; i++) await clock.advance(1_000);
    await eventually(() => !a.peers().includes("b"), "a dropped the hung b");
    expect(a.discover(Message.new("echo"))).toEqual([]);
    hung = false;
    await bClock.advance(1_000); // b's first heartbeat after resuming
    await eventually(() => a.discover(Message.new("echo")).length === 1, "b's service is back");
    expect((await a.dispatch(Message.new("echo"))).response).toEqual({ status: "ok", payload: "b" });
  });
});
