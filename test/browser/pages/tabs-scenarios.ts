// Browser-side scenarios for tabs.test.ts: each page is a tab, and each tab is a node on one channel.
import { broadcastChannelTransport } from "../../../adapters/broadcast-channel/index.ts";
import { createNode, defineRouter, Message, type SystemNode } from "../../../src/index.ts";
import { transportContract } from "../../../src/testing/index.ts";
import { settled, startDispatch } from "./pending-dispatch.ts";

let node: SystemNode | undefined;
const rejected: string[] = [];
const peerEvents: string[] = [];
let handled = 0;

const scenarios = {
  /**
   * Starts this tab's node: `hello_<id>` (public), `secret_<id>` (private) and, when `work` is set, a
   * `work` service that answers at once ("fast") or never ("slow": it waits until the tab goes away).
   */
  async start({
    channel,
    id,
    work,
    liveness,
    drainOnHide,
  }: {
    channel: string;
    id: string;
    work?: "fast" | "slow";
    drainOnHide?: boolean;
    liveness?: { heartbeatMs: number; peerTimeoutMs: number };
  }) {
    node = createNode({ id, announceIntervalMs: 0 });
    node.telemetry.on("frame_rejected", (event) => rejected.push(String(event.metadata.reason)));
    node.register(
      defineRouter({
        name: `tab-${id}`,
        services: {
          [`hello_${id}`]: (msg) => msg.ok({ tab: id, caller: msg.originNode }),
          ...(work
            ? {
                work: async (msg: Message) => {
                  handled++;
                  if (work === "slow") await new Promise(() => {});
                  return msg.ok(id);
                },
              }
            : {}),
        },
        privateServices: { [`secret_${id}`]: (msg) => msg.ok("private") },
        authorize: () => true,
      }),
    );
    node.telemetry.on("node_draining", (event) => peerEvents.push(`draining:${event.metadata.node}`));
    node.telemetry.on("node_left", (event) => peerEvents.push(`left:${event.metadata.node}`));
    const self = node;
    await node.connect(
      broadcastChannelTransport({
        channel,
        ...liveness,
        ...(drainOnHide ? { onPagehide: () => void self.drain({ timeoutMs: 0 }) } : {}),
      }),
    );
    return id;
  },

  peers: () => node?.peers().sort() ?? [],

  providers: (service: string) => node?.discover(Message.new(service)).map((p) => p.node) ?? [],

  async dispatch({ service, timeoutMs = 30_000 }: { service: string; timeoutMs?: number }) {
    if (!node) throw new Error("no node");
    const reply = await node.dispatch(Message.new(service), { timeoutMs });
    return reply.response;
  },

  startDispatch: ({ service, first }: { service: string; first: string }) =>
    startDispatch(node as SystemNode, service, first),
  settled,

  handledCount: () => handled,
  peerEvents: () => peerEvents,

  /** Blocks this tab's thread for good (a hung tab: it holds its lock but answers nothing). */
  hang() {
    setTimeout(() => {
      for (;;) {}
    }, 0);
    return true;
  },
  rejectedReasons: () => rejected,

  /** A rogue page of the same origin: posts garbage and forged frames on the channel. */
  rogue({ channel, target }: { channel: string; target: string }) {
    const bc = new BroadcastChannel(channel);
    const frame = (text: unknown) => ({ x3m: 1, kind: "frame", from: "rogue", to: target, text });
    const posts: unknown[] = [
      "garbage",
      { x3m: 1, kind: "frame", from: "rogue" },
      { x3m: 2, kind: "hello", from: "rogue" },
      [1, 2, 3],
      frame("{not json"),
      frame('{"__proto__":{"polluted":1},"v":1,"kind":"leave","from":"rogue"}'),
      frame(
        JSON.stringify({ v: 1, kind: "request", from: "rogue", attemptId: "r-1", op: "invoke", envelope: { id: 1 } }),
      ),
      frame(
        JSON.stringify({
          v: 1,
          kind: "request",
          from: "rogue",
          attemptId: "r-2",
          op: "invoke",
          envelope: Message.new(`secret_${target}`).toJSON(),
        }),
      ),
      frame("y".repeat(2 * 1024 * 1024)),
    ];
    for (const data of posts) bc.postMessage(data);
    bc.close();
    return posts.length;
  },

  /** The transport contract with three transports in this page (instances of one channel reach each other). */
  async contract(channel: string) {
    let round = 0;
    const failures: string[] = [];
    const cases = transportContract(() => {
      const name = `${channel}-${++round}`;
      const transports = [0, 1, 2].map(() => broadcastChannelTransport({ channel: name, pageLifecycle: null }));
      return { transports, dispose: () => Promise.all(transports.map((t) => t.close())).then(() => {}) };
    });
    for (const contractCase of cases) {
      try {
        await contractCase.run();
      } catch (error) {
        failures.push(`${contractCase.name}: ${(error as Error).message}`);
      }
    }
    return { cases: cases.length, failures };
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
