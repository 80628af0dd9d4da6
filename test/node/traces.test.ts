// W3C trace context on messages, and OpenTelemetry-shaped spans made from the telemetry bus.
import { describe, expect, it } from "vitest";
import {
  createNode,
  createSpanRecorder,
  createTelemetry,
  defineRouter,
  encodeFrame,
  formatTraceparent,
  Message,
  type NoReply,
  newTraceparent,
  noReply,
  otlpTraceRequest,
  parseTraceparent,
  type Span,
  SpanKind,
  type SystemNode,
} from "../../src/index.ts";
import { createCluster } from "./fixtures.ts";

const EXAMPLE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const traceIdOf = (traceparent: string | undefined) => parseTraceparent(traceparent)?.traceId;
const spanIdOf = (traceparent: string | undefined) => parseTraceparent(traceparent)?.spanId;

describe("traceparent values", () => {
  it("parses and formats the spec's example", () => {
    const context = parseTraceparent(EXAMPLE);
    expect(context).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", flags: "01" });
    expect(formatTraceparent(context as NonNullable<typeof context>)).toBe(EXAMPLE);
  });

  it.each([
    ["upper-case hex", EXAMPLE.toUpperCase()],
    ["an all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
    ["an all-zero span id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"],
    ["version ff", `ff${EXAMPLE.slice(2)}`],
    ["version 00 with more fields", `${EXAMPLE}-extra`],
    ["a short trace id", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"],
    ["no dashes", EXAMPLE.replaceAll("-", "")],
    ["a number", 42],
    ["an oversize string", `01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-${"x".repeat(600)}`],
  ])("rejects %s", (_, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it("reads a later version's fields and continues it as version 00", () => {
    const message = Message.parse({
      serviceName: "s",
      id: "m-1",
      traceparent: `cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds`,
    });
    expect(message.traceparent).toBe(EXAMPLE);
  });

  it("new traces are valid, sampled and distinct", () => {
    const values = Array.from({ length: 100 }, () => newTraceparent());
    for (const value of values) expect(value).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(new Set(values.map(traceIdOf)).size).toBe(100);
  });
});

describe("traceparent on messages", () => {
  it("is optional, validated by Message.new, kept by toJSON/parse and structuredClone", () => {
    expect(Message.new("s").traceparent).toBeUndefined();
    expect(() => Message.new("s", { traceparent: "nope" })).toThrow(/traceparent/);
    const message = Message.new("s", { traceparent: EXAMPLE });
    expect(Message.parse(JSON.parse(JSON.stringify(message))).traceparent).toBe(EXAMPLE);
    expect(Message.parse(structuredClone(message.toJSON())).traceparent).toBe(EXAMPLE);
  });

  it("an invalid value from the wire is dropped, never trusted, and never fails the message", () => {
    for (const traceparent of ["garbage", 7, { a: 1 }, EXAMPLE.toUpperCase()]) {
      expect(Message.parse({ serviceName: "s", id: "m-1", traceparent }).traceparent).toBeUndefined();
    }
  });

  it("caused-by messages continue the trace of their cause", () => {
    const cause = Message.new("s", { traceparent: EXAMPLE });
    const child = Message.causedBy("t", cause);
    expect(child.traceparent).toBe(EXAMPLE);
    expect(Message.causedBy("t", Message.new("s")).traceparent).toBeUndefined();
  });

  it("dispatch starts a trace for a message without one, and a new span in the trace of one that has it", async () => {
    const node = createNode({ announceIntervalMs: 0 });
    const seen: Message[] = [];
    node.register(
      defineRouter({
        name: "r",
        services: {
          s: (msg) => {
            seen.push(msg);
            return msg.ok();
          },
        },
        authorize: () => true,
      }),
    );
    const fresh = await node.dispatch(Message.new("s"));
    expect(seen[0]?.traceparent).toMatch(TRACEPARENT);
    expect(fresh.traceparent).toBe(seen[0]?.traceparent);
    await node.dispatch(Message.new("s", { traceparent: EXAMPLE }));
    expect(traceIdOf(seen[1]?.traceparent)).toBe(traceIdOf(EXAMPLE));
    expect(spanIdOf(seen[1]?.traceparent)).not.toBe(spanIdOf(EXAMPLE));
    expect((await node.dispatch(Message.new("unknown"))).traceparent).toMatch(TRACEPARENT);
    await node.close();
  });

  it("crosses the wire: the peer runs it in the same trace; a forged value in a frame is replaced", async () => {
    await using cluster = await createCluster(["caller", "server"]);
    const seen: Message[] = [];
    cluster.node("server").register(
      defineRouter({
        name: "r",
        services: {
          s: (msg) => {
            seen.push(msg);
            return msg.ok();
          },
        },
        authorize: () => true,
      }),
    );
    await cluster.settle();
    const reply = await cluster.node("caller").dispatch(Message.new("s", { traceparent: EXAMPLE }));
    expect(traceIdOf(seen[0]?.traceparent)).toBe(traceIdOf(EXAMPLE));
    expect(traceIdOf(reply.traceparent)).toBe(traceIdOf(EXAMPLE));

    const forged = { ...Message.new("s").toJSON(), traceparent: "00-zzz-forged" };
    cluster.hub.inject(
      "server",
      JSON.stringify({ v: 1, kind: "request", from: "caller", attemptId: "a-1", op: "invoke", envelope: forged }),
    );
    await cluster.settle();
    expect(seen[1]?.traceparent).toMatch(TRACEPARENT);
    expect(seen[1]?.id).toBe(forged.id);
    expect(encodeFrame({ kind: "leave", from: "x" })).not.toContain("traceparent");
  });
});

/** Three nodes a → b → c: a dispatches `first`, whose handler on b dispatches a caused-by `second` to c. */
async function chain() {
  const cluster = await createCluster(["a", "b", "c"]);
  const spans: Span[] = [];
  const stops = ["a", "b", "c"].map((id) => createSpanRecorder(cluster.node(id).telemetry, (span) => spans.push(span)));
  const b: SystemNode = cluster.node("b");
  cluster.node("b").register(
    defineRouter({
      name: "first",
      services: { first: async (msg) => msg.ok((await b.dispatch(Message.causedBy("second", msg))).response) },
      authorize: () => true,
    }),
  );
  cluster
    .node("c")
    .register(defineRouter({ name: "second", services: { second: (msg) => msg.ok("done") }, authorize: () => true }));
  await cluster.settle();
  const stop = () => {
    for (const stopOne of stops) stopOne();
  };
  return { cluster, spans, stop };
}

describe("spans from telemetry (OpenTelemetry's shape)", () => {
  it("a call across nodes and its caused-by call form one trace: client → server → client → server", async () => {
    const { cluster, spans, stop } = await chain();
    await using _ = cluster;
    await cluster.node("a").dispatch(Message.new("first"));
    await cluster.settle();
    stop();
    const [clientA, serverB, clientB, serverC] = [
      spans.find((s) => s.kind === SpanKind.CLIENT && s.name === "first"),
      spans.find((s) => s.kind === SpanKind.SERVER && s.name === "first"),
      spans.find((s) => s.kind === SpanKind.CLIENT && s.name === "second"),
      spans.find((s) => s.kind === SpanKind.SERVER && s.name === "second"),
    ] as [Span, Span, Span, Span];
    expect(spans).toHaveLength(4);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(clientA.parentSpanId).toBeUndefined();
    expect(serverB.parentSpanId).toBe(clientA.spanId);
    expect(clientB.parentSpanId).toBe(serverB.spanId);
    expect(serverC.parentSpanId).toBe(clientB.spanId);
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(4);
    expect(clientA.attributes).toMatchObject({
      "x3m.service": "first",
      "x3m.caller_node": "a",
      "x3m.service_node": "b",
      "x3m.response.status": "ok",
    });
    expect(serverC.attributes).toMatchObject({ "x3m.node": "c", "x3m.response.status": "ok" });
    for (const span of spans) {
      expect(span.status).toEqual({ code: 0 });
      expect(span.startTimeUnixNano).toBe(`${cluster.clock.now()}000000`);
      expect(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true);
    }
  });

  it("a local call is one INTERNAL span; failures are errors; a message from outside keeps its trace", async () => {
    const telemetry = createTelemetry();
    const node = createNode({ telemetry, announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: "r",
        services: { ok: (msg) => msg.ok(), boom: (msg) => msg.error("boom") },
        authorize: () => true,
      }),
    );
    const spans: Span[] = [];
    const stop = createSpanRecorder(telemetry, (span) => spans.push(span));
    await node.dispatch(Message.new("ok", { traceparent: EXAMPLE }));
    await node.dispatch(Message.new("boom"));
    await node.dispatch(Message.new("missing"));
    stop();
    await node.dispatch(Message.new("ok"));
    expect(spans.map((s) => [s.name, s.kind, s.status])).toEqual([
      ["ok", SpanKind.INTERNAL, { code: 0 }],
      ["boom", SpanKind.INTERNAL, { code: 2, message: "error" }],
      ["missing", SpanKind.CLIENT, { code: 2, message: "service_unavailable" }],
    ]);
    expect(spans[0]).toMatchObject({ traceId: traceIdOf(EXAMPLE), parentSpanId: spanIdOf(EXAMPLE) });
    await node.close();
  });

  it("a span carries its context's trace flags (OTLP's flags): an unsampled caller's spans say so", async () => {
    const node = createNode({ announceIntervalMs: 0 });
    node.register(defineRouter({ name: "r", services: { ok: (msg) => msg.ok() }, authorize: () => true }));
    const spans: Span[] = [];
    const stop = createSpanRecorder(node.telemetry, (span) => spans.push(span));
    await node.dispatch(Message.new("ok", { traceparent: EXAMPLE }));
    await node.dispatch(Message.new("ok", { traceparent: `${EXAMPLE.slice(0, -2)}00` }));
    stop();
    expect(spans.map((span) => span.flags)).toEqual([1, 0]);
    await node.close();
  });

  it("a publication is a PRODUCER span, parent of its deliveries; a cast's attempt ends at its acceptance", async () => {
    await using cluster = await createCluster(["pub", "sub"]);
    const spans: Span[] = [];
    for (const id of ["pub", "sub"]) createSpanRecorder(cluster.node(id).telemetry, (span) => spans.push(span));
    cluster
      .node("sub")
      .register(defineRouter({ name: "r", services: { on_tick: (msg) => msg.ok() }, authorize: () => true }));
    cluster.node("sub").subscribe("ticks", "on_tick");
    await cluster.settle();
    await cluster.node("pub").publish("ticks", Message.new("tick"));
    const producer = spans.find((s) => s.kind === SpanKind.PRODUCER);
    expect(producer).toMatchObject({
      name: "publish ticks",
      attributes: { "x3m.topic": "ticks", "x3m.subscribers": 1 },
    });
    const delivery = spans.find((s) => s.kind === SpanKind.CLIENT && s.name === "on_tick");
    expect(delivery?.parentSpanId).toBe(producer?.spanId);
    expect(spans.find((s) => s.kind === SpanKind.SERVER)?.parentSpanId).toBe(delivery?.spanId);

    spans.length = 0;
    expect(await cluster.node("pub").cast(Message.new("on_tick"))).toMatchObject({ accepted: true });
    await cluster.settle();
    const castSpan = spans.find((s) => s.kind === SpanKind.CLIENT);
    expect(castSpan?.attributes).toMatchObject({ "x3m.cast": true, "x3m.cast.accepted": true });
    expect(spans.find((s) => s.kind === SpanKind.SERVER)?.parentSpanId).toBe(castSpan?.spanId);
  });

  it("keeps at most maxOpenSpans open (a noReply handler never ends its span); the others are still recorded", async () => {
    await using cluster = await createCluster(["a", "b"]);
    const spans: Span[] = [];
    createSpanRecorder(cluster.node("b").telemetry, (span) => spans.push(span), { maxOpenSpans: 2 });
    cluster.node("b").register(
      defineRouter({
        name: "r",
        services: { silent: async (): Promise<NoReply> => noReply, ok: (m) => m.ok() },
        authorize: () => true,
      }),
    );
    await cluster.settle();
    for (let i = 0; i < 5; i++) void cluster.node("a").dispatch(Message.new("silent"), { timeoutMs: 10 });
    await cluster.settle();
    await cluster.node("a").dispatch(Message.new("ok"));
    await cluster.clock.advance(10);
    expect(spans.map((s) => s.name)).toEqual(["ok"]);
  });

  it("wraps spans in an OTLP/JSON export request", () => {
    const span: Span = {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      name: "greet",
      kind: SpanKind.SERVER,
      startTimeUnixNano: "1767225600000000000",
      endTimeUnixNano: "1767225600002000000",
      attributes: { "x3m.service": "greet", "x3m.cast": true, "x3m.subscribers": 2 },
      status: { code: 0 },
    };
    expect(otlpTraceRequest([span], { serviceName: "web" })).toEqual({
      resourceSpans: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "web" } }] },
          scopeSpans: [
            {
              scope: { name: "x3m-system" },
              spans: [
                {
                  ...span,
                  attributes: [
                    { key: "x3m.service", value: { stringValue: "greet" } },
                    { key: "x3m.cast", value: { boolValue: true } },
                    { key: "x3m.subscribers", value: { intValue: 2 } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
  });
});
