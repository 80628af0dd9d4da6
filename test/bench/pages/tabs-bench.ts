// Runs inside the pages of test/bench/tabs.ts (each engine): one page answers, the other measures round trips.
import { BroadcastChannel as PackageChannel } from "broadcast-channel";
import { broadcastChannelTransport } from "../../../adapters/broadcast-channel/index.ts";
import { createNode, defineRouter, Message, type SystemNode } from "../../../src/index.ts";
import { type Case, measureAll } from "../measure.ts";

const RAW = "bench-raw";
const PACKAGE = "bench-package";
const CLUSTER = "bench-cluster";

const scenarios = {
  /** The answering tab: echoes on a raw channel, on the npm package's channel, and as a node's service. */
  async answer() {
    const raw = new BroadcastChannel(RAW);
    raw.onmessage = (event) => raw.postMessage({ pong: (event.data as { ping: number }).ping });
    const pkg = new PackageChannel<{ ping?: number; pong?: number }>(PACKAGE, { type: "native" });
    pkg.onmessage = (data) => {
      if (data.ping !== undefined) void pkg.postMessage({ pong: data.ping });
    };
    const node = createNode({ id: "answer", announceIntervalMs: 0 });
    node.register(
      defineRouter({ name: "echo", services: { echo: (msg) => msg.ok(msg.rawRequest.n) }, authorize: () => true }),
    );
    await node.connect(broadcastChannelTransport({ channel: CLUSTER }));
    return true;
  },

  /** The measuring tab: sequential request/reply round trips through each of the three. */
  async measure() {
    const raw = new BroadcastChannel(RAW);
    let rawWaiter: (() => void) | undefined;
    raw.onmessage = () => rawWaiter?.();
    const pkg = new PackageChannel<{ ping?: number; pong?: number }>(PACKAGE, { type: "native" });
    let pkgWaiter: (() => void) | undefined;
    pkg.onmessage = (data) => {
      if (data.pong !== undefined) pkgWaiter?.();
    };
    const node: SystemNode = createNode({ id: "measure", announceIntervalMs: 0 });
    await node.connect(broadcastChannelTransport({ channel: CLUSTER }));
    while (node.discover(Message.new("echo")).length === 0) await new Promise((r) => setTimeout(r, 10));

    const cases: Case[] = [
      {
        name: "raw BroadcastChannel ping-pong (platform limit)",
        iterations: 300,
        async loop(n) {
          for (let i = 0; i < n; i++) {
            await new Promise<void>((resolve) => {
              rawWaiter = resolve;
              raw.postMessage({ ping: i });
            });
          }
        },
      },
      {
        name: "`broadcast-channel` npm package ping-pong",
        iterations: 300,
        async loop(n) {
          for (let i = 0; i < n; i++) {
            await new Promise<void>((resolve) => {
              pkgWaiter = resolve;
              void pkg.postMessage({ ping: i });
            });
          }
        },
      },
      {
        name: "x3m `node.dispatch` to the other tab",
        iterations: 300,
        async loop(n) {
          let last: unknown;
          for (let i = 0; i < n; i++) last = await node.dispatch(Message.new("echo", { rawRequest: { n: i } }));
          return last;
        },
      },
    ];
    return measureAll(cases);
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
