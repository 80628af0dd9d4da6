// Browser-side scenarios for mesh.test.ts: each page is a tab and a node on one BroadcastChannel; the
// mesh features (pub/sub, cast, draining, traces) run between tabs.
import { broadcastChannelTransport } from "../../../adapters/broadcast-channel/index.ts";
import { createNode, defineRouter, Message, type MessageData, type SystemNode } from "../../../src/index.ts";
import { settled, startDispatch } from "./pending-dispatch.ts";

let node: SystemNode | undefined;
let draining: Promise<void> | undefined;
const received: MessageData[] = [];
let handled = 0;
let finished = 0;
let release: () => void = () => {};
const released = new Promise<void>((resolve) => {
  release = resolve;
});

const started = (): SystemNode => {
  if (!node) throw new Error("no node: run start first");
  return node;
};

const scenarios = {
  /**
   * Starts this tab's node with `on_news` (records what it receives) and, with `work`, a `work` service
   * that answers at once ("fast") or once the test calls `release` ("slow").
   */
  async start({ channel, id, work }: { channel: string; id: string; work?: "fast" | "slow" }) {
    node = createNode({ id, announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: `tab-${id}`,
        services: {
          on_news: (msg) => {
            received.push(msg.toJSON());
            return msg.ok({ tab: id });
          },
          ...(work
            ? {
                work: async (msg: Message) => {
                  handled++;
                  if (work === "slow") await released;
                  finished++;
                  return msg.ok(id);
                },
              }
            : {}),
        },
        authorize: () => true,
      }),
    );
    await node.connect(broadcastChannelTransport({ channel }));
    return id;
  },

  peers: () => started().peers().sort(),
  providers: (service: string) =>
    started()
      .discover(Message.new(service))
      .map((p) => p.node),
  subscribers: (topic: string) => started().topics.subscribers(topic),

  subscribe({ topic, service }: { topic: string; service: string }) {
    started().subscribe(topic, service);
    return true;
  },

  /** Publishes `{ price }` on `topic` (in the trace of `traceparent`) and returns each subscriber's outcome. */
  async publish({ topic, price, traceparent }: { topic: string; price: number; traceparent: string }) {
    const published = Message.new("news", { rawRequest: { price }, traceparent }).assign("principal", { user: "ada" });
    const deliveries = await started().publish(topic, published);
    return {
      published: { id: published.id, correlationId: published.correlationId },
      deliveries: deliveries.map((d) => ({
        node: d.node,
        service: d.service,
        ok: d.ok,
        outcome: d.ok ? d.reply.response : d.reason,
      })),
    };
  },
  received: () => received,

  cast: (service: string) => started().cast(Message.new(service)),
  handled: () => handled,
  finished: () => finished,
  release() {
    release();
    return true;
  },

  async dispatch(service: string) {
    return (await started().dispatch(Message.new(service), { timeoutMs: 30_000 })).response;
  },

  startDispatch: ({ service, first }: { service: string; first: string }) => startDispatch(started(), service, first),
  settled,

  /** Starts draining (not awaited: the work in flight holds it) and returns the state right after. */
  drain() {
    draining = started().drain();
    return started().state;
  },
  state: () => started().state,
  async drained() {
    await draining;
    return started().state;
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
