// x3m-system/opentelemetry: the SDK's spans through a real OpenTelemetry SDK (in-memory exporter), and
// trace context from the app's spans into messages and from messages into their handlers.
import {
  context,
  type DiagLogger,
  DiagLogLevel,
  diag,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createIdGenerator,
  recordSpans,
  stampTraceparent,
  withMessageContext,
} from "../../adapters/opentelemetry/index.ts";
import { createTelemetry, defineRouter, Message, type NoReply, noReply, type ServiceMap } from "../../src/index.ts";
import { createCluster } from "./fixtures.ts";

/** One process's OpenTelemetry SDK: a provider (with the SDK's id generator unless told) exporting to memory. */
function otel(options: { idGenerator?: boolean } = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    ...(options.idGenerator === false ? {} : { idGenerator: createIdGenerator() }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { exporter, provider, tracer: provider.getTracer("app"), spans: () => exporter.getFinishedSpans() };
}

const find = (spans: ReadableSpan[], name: string, kind: SpanKind): ReadableSpan => {
  const found = spans.find((span) => span.name === name && span.kind === kind);
  if (!found) throw new Error(`no ${SpanKind[kind]} span "${name}" in ${spans.map((s) => s.name).join(", ")}`);
  return found;
};
const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const traceOf = (span: ReadableSpan) => span.spanContext().traceId;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** Two nodes on one hub, each with its own OpenTelemetry SDK (as two processes would be): web calls orders. */
async function twoNodes(services: (tracer: Tracer) => ServiceMap) {
  const cluster = await createCluster(["web", "orders"]);
  const web = otel();
  const orders = otel();
  const stops = [
    recordSpans(cluster.node("web").telemetry, { tracer: web.tracer }),
    recordSpans(cluster.node("orders").telemetry, { tracer: orders.tracer }),
  ];
  cluster
    .node("orders")
    .register(defineRouter({ name: "orders", services: services(orders.tracer), authorize: () => true }));
  await cluster.settle();
  return {
    cluster,
    web,
    orders,
    async [Symbol.asyncDispose]() {
      for (const stop of stops) stop();
      await cluster[Symbol.asyncDispose]();
    },
  };
}

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  context.disable();
});
afterEach(() => {
  trace.disable();
  diag.disable();
});

describe("x3m-system/opentelemetry", () => {
  it("a dispatch across two nodes is one trace: app span → CLIENT → SERVER → the handler's own span", async () => {
    await using setup = await twoNodes((tracer) =>
      withMessageContext({
        place: async (msg) => {
          await tracer.startActiveSpan("reserve stock", async (span) => {
            await setup.cluster.clock.advance(5);
            span.end();
          });
          return msg.ok("placed");
        },
      }),
    );
    const { cluster, web, orders } = setup;
    const started = cluster.clock.now();
    const reply = await web.tracer.startActiveSpan("checkout", async (span) => {
      const answer = await cluster.node("web").dispatch(stampTraceparent(Message.new("place")));
      span.end();
      return answer;
    });
    expect(reply.response).toEqual({ status: "ok", payload: "placed" });

    const checkout = find(web.spans(), "checkout", SpanKind.INTERNAL);
    const client = find(web.spans(), "place", SpanKind.CLIENT);
    const server = find(orders.spans(), "place", SpanKind.SERVER);
    const reserve = find(orders.spans(), "reserve stock", SpanKind.INTERNAL);
    expect(web.spans()).toHaveLength(2);
    expect(orders.spans()).toHaveLength(2);
    for (const span of [client, server, reserve]) expect(traceOf(span)).toBe(traceOf(checkout));
    expect(parentOf(client)).toBe(idOf(checkout));
    expect(parentOf(server)).toBe(idOf(client));
    expect(server.parentSpanContext?.isRemote).toBe(true);
    expect(parentOf(reserve)).toBe(idOf(server));
    // The ids are the SDK's own: what the message carried on the wire names the recorded spans.
    expect(reply.traceparent).toBe(`00-${traceOf(client)}-${idOf(client)}-01`);

    for (const span of [client, server]) {
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(span.attributes).toMatchObject({ "x3m.service": "place", "x3m.response.status": "ok" });
      // Times are the nodes' Clock (a virtual one here): the handler took exactly 5 ms of it.
      expect(span.startTime).toEqual([started / 1000, 0]);
      expect(span.endTime).toEqual([started / 1000, 5_000_000]);
    }
    expect(client.attributes).toMatchObject({ "x3m.caller_node": "web", "x3m.service_node": "orders" });
    expect(server.attributes).toMatchObject({ "x3m.node": "orders" });
    expect(client.instrumentationScope.name).toBe("app");
  });

  it("failures are ERROR spans: an error answer, a throwing handler, a timeout, no provider", async () => {
    await using setup = await twoNodes(() => ({
      refuse: (msg) => msg.error("out_of_stock"),
      crash: () => {
        throw new Error("boom");
      },
      silent: async (): Promise<NoReply> => noReply,
    }));
    const { cluster, web, orders } = setup;
    const caller = cluster.node("web");
    await caller.dispatch(Message.new("refuse"));
    await caller.dispatch(Message.new("crash"));
    const timedOut = caller.dispatch(Message.new("silent"), { timeoutMs: 50 });
    await cluster.settle();
    await cluster.clock.advance(50);
    expect((await timedOut).response?.status).toBe("service_timeout");
    await caller.dispatch(Message.new("missing"));

    const error = (message: string) => ({ code: SpanStatusCode.ERROR, message });
    expect(find(web.spans(), "refuse", SpanKind.CLIENT).status).toEqual(error("error"));
    expect(find(orders.spans(), "refuse", SpanKind.SERVER).status).toEqual(error("error"));
    expect(find(web.spans(), "crash", SpanKind.CLIENT).status).toEqual(error("error"));
    expect(find(orders.spans(), "crash", SpanKind.SERVER).status).toEqual(error("error"));
    const timeout = find(web.spans(), "silent", SpanKind.CLIENT);
    expect(timeout.status).toEqual(error("service_timeout"));
    expect(timeout.endTime[1] - timeout.startTime[1]).toBe(50_000_000);
    expect(orders.spans().some((span) => span.name === "silent")).toBe(false); // a noReply never ends its span
    expect(find(web.spans(), "missing", SpanKind.CLIENT).status).toEqual(error("service_unavailable"));
  });

  it("a local call is an INTERNAL span its handler's spans nest under; a publication is a PRODUCER span", async () => {
    await using cluster = await createCluster(["solo"]);
    const { tracer, spans } = otel();
    recordSpans(cluster.node("solo").telemetry, { tracer });
    cluster.node("solo").register(
      defineRouter({
        name: "r",
        services: withMessageContext({
          greet: (msg) =>
            tracer.startActiveSpan("format", (span) => {
              span.end();
              return msg.ok("hi");
            }),
          on_tick: (msg) => msg.ok(),
        }),
        authorize: () => true,
      }),
    );
    cluster.node("solo").subscribe("ticks", "on_tick");
    await cluster.node("solo").dispatch(Message.new("greet"));
    await cluster.node("solo").publish("ticks", Message.new("tick"));

    const greet = find(spans(), "greet", SpanKind.INTERNAL);
    expect(greet.parentSpanContext).toBeUndefined();
    expect(parentOf(find(spans(), "format", SpanKind.INTERNAL))).toBe(idOf(greet));
    const producer = find(spans(), "publish ticks", SpanKind.PRODUCER);
    expect(producer.attributes).toMatchObject({ "x3m.topic": "ticks", "x3m.subscribers": 1 });
    const delivery = find(spans(), "on_tick", SpanKind.INTERNAL);
    expect(parentOf(delivery)).toBe(idOf(producer));
    expect(traceOf(delivery)).toBe(traceOf(producer));
  });

  it("an unsampled app span keeps the SDK's spans and the handler's unrecorded, on both nodes", async () => {
    await using setup = await twoNodes((tracer) =>
      withMessageContext({
        place: (msg) =>
          tracer.startActiveSpan("inner", (span) => {
            span.end();
            return msg.ok();
          }),
      }),
    );
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: TraceFlags.NONE,
    });
    const message = stampTraceparent(Message.new("place"), unsampled);
    expect(message.traceparent).toBe("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    expect((await setup.cluster.node("web").dispatch(message)).response?.status).toBe("ok");
    expect(setup.web.spans()).toEqual([]);
    expect(setup.orders.spans()).toEqual([]);
  });

  it("stampTraceparent leaves a message alone outside any span, and continues the handler's span inside one", async () => {
    const message = Message.new("s");
    expect(stampTraceparent(message)).toBe(message);
    const served = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const handler = withMessageContext((msg) => msg.ok(stampTraceparent(Message.new("next")).traceparent));
    const reply = await handler(Message.new("s", { traceparent: served }));
    expect(reply).not.toBe(noReply);
    expect((reply as Message).response).toEqual({ status: "ok", payload: served });
  });

  it("records nothing unless recordSpans is on: not before it, not after its stop()", async () => {
    const { provider, spans } = otel();
    trace.setGlobalTracerProvider(provider);
    const telemetry = createTelemetry();
    await using cluster = await createCluster(["a", "b"], { telemetry });
    cluster.node("b").register(defineRouter({ name: "r", services: { s: (msg) => msg.ok() }, authorize: () => true }));
    await cluster.settle();
    await cluster.node("a").dispatch(Message.new("s"));
    expect(spans()).toEqual([]);

    const stop = recordSpans(telemetry); // the global provider's tracer
    await cluster.node("a").dispatch(Message.new("s"));
    expect(spans().map((span) => [span.name, span.kind])).toEqual([
      ["s", SpanKind.SERVER],
      ["s", SpanKind.CLIENT],
    ]);
    expect(spans()[0]?.instrumentationScope.name).toBe("x3m-system");
    stop();
    await cluster.node("a").dispatch(Message.new("s"));
    expect(spans()).toHaveLength(2);
  });

  it("a provider without createIdGenerator() is reported once through diag (its traces would fall apart)", async () => {
    const errors: string[] = [];
    const logger: DiagLogger = {
      error: (message) => errors.push(message),
      warn: () => {},
      info: () => {},
      debug: () => {},
      verbose: () => {},
    };
    diag.setLogger(logger, DiagLogLevel.ERROR);
    const { tracer, spans } = otel({ idGenerator: false });
    await using cluster = await createCluster(["solo"]);
    recordSpans(cluster.node("solo").telemetry, { tracer });
    cluster
      .node("solo")
      .register(defineRouter({ name: "r", services: { s: (msg) => msg.ok() }, authorize: () => true }));
    const reply = await cluster.node("solo").dispatch(Message.new("s"));
    await cluster.node("solo").dispatch(Message.new("s"));
    expect(spans()).toHaveLength(2);
    expect(reply.traceparent).not.toContain(idOf(spans()[0] as ReadableSpan));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/createIdGenerator\(\)/);
  });
});
