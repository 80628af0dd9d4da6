// Runs inside the pages of test/bench/tabs.ts (each engine): one page answers, the other measures round trips.
import { BroadcastChannel as PackageChannel } from "broadcast-channel";
import { broadcastChannelTransport } from "../../../adapters/broadcast-channel/index.ts";
import {
  createInProcessHub,
  createNode,
  decodeFrame,
  defineRouter,
  encodeFrame,
  Message,
  type SystemNode,
} from "../../../src/index.ts";
import { type Case, measureAll } from "../measure.ts";

const RAW = "bench-raw";
const FRAMES = "bench-frames";
const PACKAGE = "bench-package";
const CLUSTER = "bench-cluster";

const echo = () =>
  defineRouter({ name: "echo", services: { echo: (msg) => msg.ok(msg.rawRequest.n) }, authorize: () => true });

/** What the transport posts: its envelope around a frame's JSON text. */
const envelope = (from: string, to: string, text: string) => ({ x3m: 1, kind: "frame", from, to, text });

const scenarios = {
  /** The answering tab: echoes on a raw channel, the frames channel, the npm package's channel, and as a node. */
  async answer() {
    const raw = new BroadcastChannel(RAW);
    raw.onmessage = (event) => raw.postMessage({ pong: (event.data as { ping: number }).ping });
    // The same frames a node exchanges, encoded and validated as a node must, with no node around them.
    const frames = new BroadcastChannel(FRAMES);
    frames.onmessage = (event) => {
      const decoded = decodeFrame((event.data as { text: string }).text);
      if (!decoded.ok || decoded.value.kind !== "request") return;
      const { attemptId, envelope: request } = decoded.value;
      const reply = request.ok(request.rawRequest.n);
      frames.postMessage(
        envelope("answer", "measure", encodeFrame({ kind: "reply", from: "answer", attemptId, envelope: reply })),
      );
    };
    const pkg = new PackageChannel<{ ping?: number; pong?: number }>(PACKAGE, { type: "native" });
    pkg.onmessage = (data) => {
      if (data.ping !== undefined) void pkg.postMessage({ pong: data.ping });
    };
    const node = createNode({ id: "answer", announceIntervalMs: 0 });
    node.register(echo());
    await node.connect(broadcastChannelTransport({ channel: CLUSTER }));
    return true;
  },

  /** The measuring tab: sequential request/reply round trips through each. */
  async measure() {
    const raw = new BroadcastChannel(RAW);
    let rawWaiter: (() => void) | undefined;
    raw.onmessage = () => rawWaiter?.();
    const frames = new BroadcastChannel(FRAMES);
    let framesWaiter: (() => void) | undefined;
    frames.onmessage = (event) => {
      if (decodeFrame((event.data as { text: string }).text).ok) framesWaiter?.();
    };
    const pkg = new PackageChannel<{ ping?: number; pong?: number }>(PACKAGE, { type: "native" });
    let pkgWaiter: (() => void) | undefined;
    pkg.onmessage = (data) => {
      if (data.pong !== undefined) pkgWaiter?.();
    };
    const node: SystemNode = createNode({ id: "measure", announceIntervalMs: 0 });
    await node.connect(broadcastChannelTransport({ channel: CLUSTER }));
    while (node.discover(Message.new("echo")).length === 0) await new Promise((r) => setTimeout(r, 10));
    // Two nodes of this page over the in-process hub: the SDK's own work per round trip, without a channel.
    const hub = createInProcessHub();
    const [caller, server] = [
      createNode({ id: "caller", announceIntervalMs: 0 }),
      createNode({ id: "server", announceIntervalMs: 0 }),
    ];
    server.register(echo());
    await caller.connect(hub.transport());
    await server.connect(hub.transport());
    while (caller.discover(Message.new("echo")).length === 0) await new Promise((r) => setTimeout(r, 1));

    const cases: Case[] = [
      {
        name: "baseline: raw BroadcastChannel ping-pong (the platform's limit)",
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
        name: "floor: raw BroadcastChannel carrying a node's frames, encoded and validated (zod) both ways, no node",
        iterations: 300,
        async loop(n) {
          for (let i = 0; i < n; i++) {
            const request = Message.new("echo", { rawRequest: { n: i } });
            const text = encodeFrame({
              kind: "request",
              from: "measure",
              attemptId: `m-${i}`,
              op: "invoke",
              envelope: request,
            });
            await new Promise<void>((resolve) => {
              framesWaiter = resolve;
              frames.postMessage(envelope("measure", "answer", text));
            });
          }
        },
      },
      {
        name: "x3m `node.dispatch` to the other tab (broadcastChannelTransport)",
        iterations: 300,
        async loop(n) {
          let last: unknown;
          for (let i = 0; i < n; i++) last = await node.dispatch(Message.new("echo", { rawRequest: { n: i } }));
          return last;
        },
      },
      {
        name: "x3m `node.dispatch` between two nodes of this page (in-process hub: the SDK's own work, no channel)",
        iterations: 300,
        async loop(n) {
          let last: unknown;
          for (let i = 0; i < n; i++) last = await caller.dispatch(Message.new("echo", { rawRequest: { n: i } }));
          return last;
        },
      },
    ];
    return measureAll(cases);
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
