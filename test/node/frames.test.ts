import fc from "fast-check";
import { afterEach, describe, expect, it, type Mock, vi } from "vitest";
import {
  createInProcessHub,
  createNode,
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  defineRouter,
  encodeFrame,
  type Frame,
  type InProcessHub,
  Message,
  SdkClientError,
  SdkErrorCode,
  type SystemNode,
  type TelemetryEvent,
} from "../../src/index.ts";
import { gate } from "./fixtures.ts";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);
const NAME = /^[A-Za-z0-9_.:@/-]{1,200}$/;
const utf8 = new TextEncoder();

/** Lets every queued microtask (hub deliveries, handlers, replies) run to completion. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

async function waitUntil(condition: () => boolean, label: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (condition()) return;
    await flush();
  }
  throw new Error(`timed out waiting for ${label}`);
}

function expectRejected(input: unknown, code: SdkErrorCode, maxBytes?: number): SdkClientError {
  const result = decodeFrame(input, maxBytes);
  expect(result.ok).toBe(false);
  expect(result.error).toBeInstanceOf(SdkClientError);
  expect(result.error?.code).toBe(code);
  return result.error as SdkClientError;
}

function expectAccepted(input: unknown, maxBytes?: number): Frame {
  const result = decodeFrame(input, maxBytes);
  if (!result.ok)
    throw new Error(`expected the frame to be accepted, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

const json = (value: unknown) => JSON.stringify(value);

const envelope = { serviceName: "echo", id: "m-1" };
const validFrames = {
  announce: { v: 1, kind: "announce", from: "node-a", services: [{ name: "echo", router: "echoer" }] },
  leave: { v: 1, kind: "leave", from: "node-a" },
  request: { v: 1, kind: "request", from: "node-a", attemptId: "att-1", op: "invoke", envelope },
  reply: {
    v: 1,
    kind: "reply",
    from: "node-a",
    attemptId: "att-1",
    envelope: { ...envelope, response: { status: "ok", payload: 42 }, halted: true },
  },
} as const;

/** A request frame's JSON text whose rawRequest is the given raw JSON text (for keys JSON.stringify cannot write). */
const requestWithRawRequest = (rawRequestJson: string, from = "node-a") =>
  `{"v":1,"kind":"request","from":"${from}","attemptId":"att-1","op":"invoke",` +
  `"envelope":{"serviceName":"echo","id":"m-1","rawRequest":${rawRequestJson}}}`;

function omit(value: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _omitted, ...rest } = value;
  return rest;
}

function isPolluted(): boolean {
  const probe = {} as Record<string, unknown>;
  return probe.polluted !== undefined || probe.isAdmin !== undefined || Object.hasOwn(Object.prototype, "polluted");
}

// ---------------------------------------------------------------------------------------------
// decodeFrame / encodeFrame
// ---------------------------------------------------------------------------------------------

describe("decodeFrame rejects", () => {
  it.each([
    { name: "plain text", input: "hello, node" },
    { name: "an empty string", input: "" },
    { name: "truncated JSON", input: '{"v":1,"kind":"leave","from":"node-a"' },
    { name: "JSON with a trailing comma", input: '{"v":1,"kind":"leave","from":"node-a",}' },
    { name: "single-quoted JSON", input: "{'v':1,'kind':'leave','from':'node-a'}" },
  ])("non-JSON text ($name) as INVALID_FRAME", ({ input }) => {
    const error = expectRejected(input, SdkErrorCode.INVALID_FRAME);
    expect(error.message).toBe("frame is not valid JSON");
  });

  it.each([
    { name: "a number", input: 42 },
    { name: "null", input: null },
    { name: "undefined", input: undefined },
    { name: "an already parsed object", input: validFrames.leave },
    { name: "bytes", input: new TextEncoder().encode(json(validFrames.leave)) },
  ])("non-string input ($name) as INVALID_FRAME", ({ input }) => {
    const error = expectRejected(input, SdkErrorCode.INVALID_FRAME);
    expect(error.message).toBe("frame is not text");
  });

  it.each([
    { name: "null", input: "null" },
    { name: "a number", input: "42" },
    { name: "a string", input: '"leave"' },
    { name: "an array", input: json([validFrames.leave]) },
  ])("JSON that is not an object ($name) as INVALID_FRAME", ({ input }) => {
    expectRejected(input, SdkErrorCode.INVALID_FRAME);
  });

  it.each([
    { name: "an unknown kind", input: { ...validFrames.leave, kind: "ping" } },
    { name: "a kind in the wrong case", input: { ...validFrames.leave, kind: "LEAVE" } },
    { name: "no kind", input: omit(validFrames.leave, "kind") },
    { name: "a non-string kind", input: { ...validFrames.leave, kind: 1 } },
  ])("$name as INVALID_FRAME", ({ input }) => {
    const error = expectRejected(json(input), SdkErrorCode.INVALID_FRAME);
    expect(error.message).toContain("kind");
  });

  it.each([
    { name: "v: 2", v: 2 },
    { name: "v: 0", v: 0 },
    { name: 'v: "1"', v: "1" },
    { name: "v: null", v: null },
    { name: "v: 1.5", v: 1.5 },
  ])("a wrong protocol version ($name) as INVALID_FRAME", ({ v }) => {
    const error = expectRejected(json({ ...validFrames.leave, v }), SdkErrorCode.INVALID_FRAME);
    expect(error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: ["v"] })]));
  });

  it("a frame without v as INVALID_FRAME", () => {
    expectRejected(json(omit(validFrames.leave, "v")), SdkErrorCode.INVALID_FRAME);
  });

  it.each([
    { name: "from is a number", frame: { ...validFrames.leave, from: 7 }, path: ["from"] },
    { name: "from is not a valid name", frame: { ...validFrames.leave, from: "node a" }, path: ["from"] },
    { name: "from is a prototype key", frame: { ...validFrames.leave, from: "__proto__" }, path: ["from"] },
    { name: "services is not an array", frame: { ...validFrames.announce, services: "echo" }, path: ["services"] },
    {
      name: "a service's router is a number",
      frame: { ...validFrames.announce, services: [{ name: "echo", router: 1 }] },
      path: ["services", "0", "router"],
    },
    { name: "attemptId is a number", frame: { ...validFrames.request, attemptId: 1 }, path: ["attemptId"] },
    { name: "attemptId is empty", frame: { ...validFrames.request, attemptId: "" }, path: ["attemptId"] },
    {
      name: "attemptId is longer than 200 chars",
      frame: { ...validFrames.request, attemptId: "a".repeat(201) },
      path: ["attemptId"],
    },
    { name: "op is unknown", frame: { ...validFrames.request, op: "delete" }, path: ["op"] },
    { name: "forwarded is a string", frame: { ...validFrames.request, forwarded: "yes" }, path: ["forwarded"] },
    { name: "envelope is a string", frame: { ...validFrames.request, envelope: "echo" }, path: ["envelope"] },
    { name: "envelope is an array", frame: { ...validFrames.request, envelope: [envelope] }, path: ["envelope"] },
    {
      name: "envelope.id is a number",
      frame: { ...validFrames.request, envelope: { ...envelope, id: 5 } },
      path: ["envelope", "id"],
    },
    {
      name: "envelope.dryRun is not a dry-run mode",
      frame: { ...validFrames.request, envelope: { ...envelope, dryRun: "loud" } },
      path: ["envelope", "dryRun"],
    },
    {
      name: "envelope.rawRequest is an array",
      frame: { ...validFrames.request, envelope: { ...envelope, rawRequest: [1, 2] } },
      path: ["envelope", "rawRequest"],
    },
    {
      name: "envelope.invokedAt is a string",
      frame: { ...validFrames.request, envelope: { ...envelope, invokedAt: "now" } },
      path: ["envelope", "invokedAt"],
    },
    {
      name: "envelope.response has an unknown status",
      frame: { ...validFrames.reply, envelope: { ...envelope, response: { status: "maybe" } } },
      path: ["envelope", "response", "status"],
    },
    {
      name: "envelope.originNode is not a valid name",
      frame: { ...validFrames.request, envelope: { ...envelope, originNode: "a b" } },
      path: ["envelope", "originNode"],
    },
  ])("a wrong field type ($name) as INVALID_FRAME, naming the field", ({ frame, path }) => {
    const error = expectRejected(json(frame), SdkErrorCode.INVALID_FRAME);
    expect(error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    expect(error.message).toContain(path.join("."));
  });

  it.each([
    { name: "from", frame: omit(validFrames.leave, "from"), path: ["from"] },
    { name: "announce.services", frame: omit(validFrames.announce, "services"), path: ["services"] },
    { name: "request.attemptId", frame: omit(validFrames.request, "attemptId"), path: ["attemptId"] },
    { name: "request.op", frame: omit(validFrames.request, "op"), path: ["op"] },
    { name: "request.envelope", frame: omit(validFrames.request, "envelope"), path: ["envelope"] },
    { name: "reply.attemptId", frame: omit(validFrames.reply, "attemptId"), path: ["attemptId"] },
    { name: "reply.envelope", frame: omit(validFrames.reply, "envelope"), path: ["envelope"] },
    {
      name: "envelope.serviceName",
      frame: { ...validFrames.request, envelope: { id: "m-1" } },
      path: ["envelope", "serviceName"],
    },
    {
      name: "envelope.id",
      frame: { ...validFrames.request, envelope: { serviceName: "echo" } },
      path: ["envelope", "id"],
    },
    {
      name: "a service's name",
      frame: { ...validFrames.announce, services: [{ router: "echoer" }] },
      path: ["services", "0", "name"],
    },
  ])("a frame missing $name as INVALID_FRAME", ({ frame, path }) => {
    const error = expectRejected(json(frame), SdkErrorCode.INVALID_FRAME);
    expect(error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
  });

  it.each([
    { name: "a space", serviceName: "echo service" },
    { name: "empty", serviceName: "" },
    { name: "too long", serviceName: "s".repeat(201) },
    { name: "a prototype key", serviceName: "__proto__" },
    { name: "constructor", serviceName: "constructor" },
    { name: "markup", serviceName: "<script>" },
    { name: "a number", serviceName: 12 },
    { name: "null", serviceName: null },
  ])("an envelope whose serviceName is $name as INVALID_FRAME", ({ serviceName }) => {
    const frame = { ...validFrames.request, envelope: { ...envelope, serviceName } };
    const error = expectRejected(json(frame), SdkErrorCode.INVALID_FRAME);
    expect(error.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: ["envelope", "serviceName"] })]),
    );
  });

  describe("prototype keys as FORBIDDEN_KEY", () => {
    afterEach(() => {
      expect(isPolluted()).toBe(false);
    });

    it.each([
      {
        name: "__proto__ at the top of the frame",
        text: '{"v":1,"kind":"leave","from":"node-a","__proto__":{"polluted":true}}',
        key: "__proto__",
      },
      {
        name: "__proto__ in the envelope's rawRequest",
        text: requestWithRawRequest('{"__proto__":{"isAdmin":true}}'),
        key: "__proto__",
      },
      {
        name: "unicode-escaped __proto__ in the envelope's rawRequest",
        text: requestWithRawRequest(String.raw`{"\u005f_proto__":{"isAdmin":true}}`),
        key: "__proto__",
      },
      {
        name: "fully unicode-escaped __proto__ at the top of the frame",
        text: String.raw`{"v":1,"kind":"leave","from":"node-a","\u005f\u005f\u0070roto\u005f\u005f":{"polluted":true}}`,
        key: "__proto__",
      },
      {
        name: "constructor nested inside the envelope's rawRequest",
        text: requestWithRawRequest('{"user":{"profile":{"constructor":{"prototype":{"isAdmin":true}}}}}'),
        key: "constructor", // the outermost forbidden key is the one reported
      },
      {
        name: "constructor as a leaf inside the envelope's rawRequest",
        text: requestWithRawRequest('{"user":{"profile":{"constructor":"Object"}}}'),
        key: "constructor",
      },
      {
        name: "unicode-escaped constructor in the envelope's rawRequest",
        text: requestWithRawRequest(String.raw`{"a":[{"\u0063onstructor":1}]}`),
        key: "constructor",
      },
      {
        name: "prototype in the envelope's logContext",
        text:
          '{"v":1,"kind":"request","from":"node-a","attemptId":"att-1","op":"invoke",' +
          '"envelope":{"serviceName":"echo","id":"m-1","logContext":{"prototype":{}}}}',
        key: "prototype",
      },
      {
        name: "__proto__ inside an event of a reply",
        text:
          '{"v":1,"kind":"reply","from":"node-a","attemptId":"att-1",' +
          '"envelope":{"serviceName":"echo","id":"m-1","events":[{"type":"x","__proto__":{"polluted":1}}]}}',
        key: "__proto__",
      },
      {
        name: "__proto__ in an announced service",
        text: '{"v":1,"kind":"announce","from":"node-a","services":[{"name":"echo","router":"r","__proto__":{}}]}',
        key: "__proto__",
      },
    ])("$name", ({ text, key }) => {
      const error = expectRejected(text, SdkErrorCode.FORBIDDEN_KEY);
      expect(error.message).toBe(`forbidden key "${key}" in frame`);
    });
  });

  describe("oversize frames as FRAME_TOO_LARGE", () => {
    it("rejects a frame longer than a small maxBytes", () => {
      const text = json({ ...validFrames.leave, padding: "x".repeat(100) });
      expect(text.length).toBeGreaterThan(64);
      const error = expectRejected(text, SdkErrorCode.FRAME_TOO_LARGE, 64);
      expect(error.message).toBe("frame is larger than 64 bytes");
    });

    it("counts UTF-8 bytes, not UTF-16 code units", () => {
      const text = json({ ...validFrames.leave, padding: "é".repeat(40) });
      const bytes = utf8.encode(text).byteLength;
      expect(bytes).toBe(text.length + 40);
      // Short enough in characters, too long in bytes.
      expectRejected(text, SdkErrorCode.FRAME_TOO_LARGE, text.length);
    });

    it("accepts a frame of exactly maxBytes and rejects it one byte below", () => {
      const text = json({ ...validFrames.leave, padding: "€".repeat(30) });
      const bytes = utf8.encode(text).byteLength;
      expect(expectAccepted(text, bytes)).toEqual({ kind: "leave", from: "node-a" });
      expectRejected(text, SdkErrorCode.FRAME_TOO_LARGE, bytes - 1);
    });

    it("checks the size before parsing: oversize garbage and oversize hostile text are FRAME_TOO_LARGE", () => {
      expectRejected("x".repeat(65), SdkErrorCode.FRAME_TOO_LARGE, 64);
      expectRejected(requestWithRawRequest('{"__proto__":{"isAdmin":true}}'), SdkErrorCode.FRAME_TOO_LARGE, 64);
    });

    it("applies the 1 MiB default when maxBytes is not given", () => {
      const frame = { ...validFrames.leave, padding: "" };
      const overhead = json(frame).length;
      expectAccepted(json({ ...frame, padding: "x".repeat(DEFAULT_MAX_FRAME_BYTES - overhead) }));
      expectRejected(
        json({ ...frame, padding: "x".repeat(DEFAULT_MAX_FRAME_BYTES - overhead + 1) }),
        SdkErrorCode.FRAME_TOO_LARGE,
      );
    });
  });

  it("never throws, even for nesting too deep to parse", () => {
    const depth = 200_000;
    const text = requestWithRawRequest(`{"a":${"[".repeat(depth)}${"]".repeat(depth)}}`);
    let result: ReturnType<typeof decodeFrame> | undefined;
    expect(() => {
      result = decodeFrame(text);
    }).not.toThrow();
    expect(result).toHaveProperty("ok");
  });
});

describe("decodeFrame accepts", () => {
  it("an announce frame, without the protocol version", () => {
    expect(expectAccepted(json(validFrames.announce))).toEqual({
      kind: "announce",
      from: "node-a",
      services: [{ name: "echo", router: "echoer" }],
    });
  });

  it("an announce frame with no services", () => {
    expect(expectAccepted(json({ ...validFrames.announce, services: [] }))).toEqual({
      kind: "announce",
      from: "node-a",
      services: [],
    });
  });

  it("a leave frame", () => {
    expect(expectAccepted(json(validFrames.leave))).toEqual({ kind: "leave", from: "node-a" });
  });

  it("a request frame, filling the envelope's defaults into a Message", () => {
    const frame = expectAccepted(json(validFrames.request));
    if (frame.kind !== "request") throw new Error(`expected a request, got ${frame.kind}`);
    expect(frame).toMatchObject({ kind: "request", from: "node-a", attemptId: "att-1", op: "invoke" });
    expect(frame.forwarded).toBeUndefined();
    expect(frame.envelope).toBeInstanceOf(Message);
    expect(frame.envelope.toJSON()).toEqual({
      serviceName: "echo",
      id: "m-1",
      correlationId: "m-1",
      causationId: "m-1",
      logContext: {},
      invokedAt: expect.any(Number),
      dryRun: false,
      rawRequest: {},
      request: undefined,
      valid: true,
      assigns: {},
      response: null,
      events: [],
      aggregateMeta: {},
      originNode: null,
      halted: false,
    });
  });

  it("an authorize request that was forwarded", () => {
    const frame = expectAccepted(json({ ...validFrames.request, op: "authorize", forwarded: true }));
    expect(frame).toMatchObject({ kind: "request", op: "authorize", forwarded: true });
  });

  it("a reply frame", () => {
    const frame = expectAccepted(json(validFrames.reply));
    if (frame.kind !== "reply") throw new Error(`expected a reply, got ${frame.kind}`);
    expect(frame).toMatchObject({ kind: "reply", from: "node-a", attemptId: "att-1" });
    expect(frame.envelope).toBeInstanceOf(Message);
    expect(frame.envelope.response).toEqual({ status: "ok", payload: 42 });
    expect(frame.envelope.halted).toBe(true);
  });

  it("and drops fields it does not know", () => {
    expect(expectAccepted(json({ ...validFrames.leave, extra: { nested: true } }))).toEqual({
      kind: "leave",
      from: "node-a",
    });
  });
});

describe("encodeFrame → decodeFrame", () => {
  const full = Message.parse({
    serviceName: "open_account",
    id: "0190f5a4-7c3e-7d4e-9a1b-2c3d4e5f6a7b",
    correlationId: "corr-1",
    causationId: "cause-1",
    logContext: { requestId: "req-9", user: { id: 7 } },
    invokedAt: 1_700_000_000_123,
    dryRun: "verbose",
    rawRequest: { id: "acc-1", owner: "Ada", tags: ["a", "b"], nested: { deep: [1, { x: null }] } },
    request: { id: "acc-1", owner: "Ada" },
    valid: true,
    assigns: { user: "ada", roles: ["admin"] },
    response: { status: "created", id: "acc-1", version: 3 },
    events: [{ type: "AccountOpened", id: "acc-1" }, "plain", 12],
    aggregateMeta: { id: "acc-1", version: 3 },
    originNode: "node-origin",
    halted: true,
  });

  it("round-trips a request whose envelope is a full Message", () => {
    const text = encodeFrame({
      kind: "request",
      from: "node-a",
      attemptId: "att-42",
      op: "invoke",
      forwarded: true,
      envelope: full,
    });
    expect(JSON.parse(text).v).toBe(1);
    const frame = expectAccepted(text);
    if (frame.kind !== "request") throw new Error(`expected a request, got ${frame.kind}`);
    expect(frame).toMatchObject({
      kind: "request",
      from: "node-a",
      attemptId: "att-42",
      op: "invoke",
      forwarded: true,
    });
    expect(frame.envelope).toBeInstanceOf(Message);
    expect(frame.envelope.toJSON()).toEqual(full.toJSON());
  });

  it("round-trips a reply whose envelope is a full Message", () => {
    const frame = expectAccepted(encodeFrame({ kind: "reply", from: "node-b", attemptId: "att-42", envelope: full }));
    if (frame.kind !== "reply") throw new Error(`expected a reply, got ${frame.kind}`);
    expect(frame.envelope.toJSON()).toEqual(full.toJSON());
  });

  it("refuses to encode a frame over maxBytes, or a message that is not JSON", () => {
    const frame: Frame = { kind: "request", from: "node-a", attemptId: "att-1", op: "invoke", envelope: full };
    expect(() => encodeFrame(frame, 64)).toThrowError(expect.objectContaining({ code: "FRAME_TOO_LARGE" }));
    const bigint = Message.new("echo", { rawRequest: { n: 1n } });
    expect(() => encodeFrame({ ...frame, envelope: bigint })).toThrowError(
      expect.objectContaining({ code: "INVALID_FRAME" }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// A node under hostile frames
// ---------------------------------------------------------------------------------------------

const openNodes: SystemNode[] = [];
afterEach(async () => {
  await Promise.all(openNodes.splice(0).map((node) => node.close()));
});

interface Cluster {
  hub: InProcessHub;
  server: SystemNode;
  client: SystemNode;
  echo: Mock<(msg: Message) => Message>;
  slow: Mock<(msg: Message) => Promise<Message>>;
  secret: Mock<(msg: Message) => Message>;
  /** `frame_rejected` events seen by the server. */
  rejected: TelemetryEvent[];
  /** `late_reply_dropped` events seen by the client. */
  lateAtClient: TelemetryEvent[];
  handlerFailures: TelemetryEvent[];
}

/** A server offering `echo` and `slow` (public) and `secret` (private), and a client that knows about them. */
async function cluster(options: { maxFrameBytes?: number; slow?: () => Promise<unknown> } = {}): Promise<Cluster> {
  const hub = createInProcessHub();
  const echo = vi.fn((msg: Message) => msg.ok({ echoed: msg.rawRequest }));
  const secret = vi.fn((msg: Message) => msg.ok("secret"));
  const slowGate = options.slow;
  const slow = vi.fn(async (msg: Message) => {
    await slowGate?.();
    return msg.ok("real");
  });
  const router = defineRouter({
    name: "echoer",
    services: { echo, slow },
    privateServices: { secret },
    authorize: () => true,
  });
  const server = createNode({
    id: "server",
    announceIntervalMs: 0,
    ...(options.maxFrameBytes ? { maxFrameBytes: options.maxFrameBytes } : {}),
  });
  const client = createNode({ id: "client", announceIntervalMs: 0 });
  openNodes.push(server, client);
  const rejected: TelemetryEvent[] = [];
  const lateAtClient: TelemetryEvent[] = [];
  const handlerFailures: TelemetryEvent[] = [];
  server.telemetry.on("frame_rejected", (event) => rejected.push(event));
  server.telemetry.on("handler_failed", (event) => handlerFailures.push(event));
  client.telemetry.on("late_reply_dropped", (event) => lateAtClient.push(event));
  server.register(router);
  await server.connect(hub.transport());
  await client.connect(hub.transport());
  await waitUntil(() => client.discover(Message.new("echo")).some((p) => p.node === "server"), "client to see echo");
  return { hub, server, client, echo, slow, secret, rejected, lateAtClient, handlerFailures };
}

async function expectStillServing(c: Cluster, handlerCallsBefore: number): Promise<void> {
  const reply = await c.client.dispatch(Message.new("echo", { rawRequest: { probe: 42 } }), { timeoutMs: 1_000 });
  expect(reply.response).toEqual({ status: "ok", payload: { echoed: { probe: 42 } } });
  expect(c.echo).toHaveBeenCalledTimes(handlerCallsBefore + 1);
}

const SERVER_MAX_BYTES = 4_096;

describe("a node receiving hostile frames", () => {
  const cases: Array<{ name: string; text: string; code: string }> = [
    { name: "non-JSON text", text: "GET / HTTP/1.1", code: SdkErrorCode.INVALID_FRAME },
    { name: "an empty frame", text: "", code: SdkErrorCode.INVALID_FRAME },
    { name: "JSON that is not an object", text: "[1,2,3]", code: SdkErrorCode.INVALID_FRAME },
    { name: "a non-string frame", text: 42 as unknown as string, code: SdkErrorCode.INVALID_FRAME },
    {
      name: "an unknown kind",
      text: json({ ...validFrames.request, from: "client", kind: "execute" }),
      code: SdkErrorCode.INVALID_FRAME,
    },
    {
      name: "a wrong protocol version",
      text: json({ ...validFrames.request, from: "client", v: 2 }),
      code: SdkErrorCode.INVALID_FRAME,
    },
    {
      name: "a request with a wrong field type",
      text: json({ ...validFrames.request, from: "client", attemptId: 9 }),
      code: SdkErrorCode.INVALID_FRAME,
    },
    {
      name: "a request without an envelope",
      text: json(omit({ ...validFrames.request, from: "client" }, "envelope")),
      code: SdkErrorCode.INVALID_FRAME,
    },
    {
      name: "a request with a bad serviceName",
      text: json({ ...validFrames.request, from: "client", envelope: { ...envelope, serviceName: "echo!" } }),
      code: SdkErrorCode.INVALID_FRAME,
    },
    {
      name: "a request for echo carrying __proto__",
      text: requestWithRawRequest('{"__proto__":{"isAdmin":true}}', "client"),
      code: SdkErrorCode.FORBIDDEN_KEY,
    },
    {
      name: "a request for echo carrying unicode-escaped __proto__",
      text: requestWithRawRequest(String.raw`{"\u005f_proto__":{"isAdmin":true}}`, "client"),
      code: SdkErrorCode.FORBIDDEN_KEY,
    },
    {
      name: "a request for echo carrying a nested constructor",
      text: requestWithRawRequest('{"a":{"b":{"constructor":{"x":1}}}}', "client"),
      code: SdkErrorCode.FORBIDDEN_KEY,
    },
    {
      name: "an oversize request for echo",
      text: requestWithRawRequest(json({ pad: "x".repeat(SERVER_MAX_BYTES) }), "client"),
      code: SdkErrorCode.FRAME_TOO_LARGE,
    },
    {
      name: "a request claiming to come from the node itself",
      text: json({ ...validFrames.request, from: "server" }),
      code: SdkErrorCode.INVALID_FRAME,
    },
    {
      name: 'a request claiming to come from "local"',
      text: json({ ...validFrames.request, from: "local" }),
      code: SdkErrorCode.INVALID_FRAME,
    },
  ];

  it.each(cases)(
    "drops $name with frame_rejected($code), runs no handler, and keeps serving",
    async ({ text, code }) => {
      const c = await cluster({ maxFrameBytes: SERVER_MAX_BYTES });
      c.hub.inject("server", text);
      await flush();
      expect(c.rejected.map((e) => e.metadata)).toEqual([
        { code, reason: expect.any(String), transport: "in-process-hub", node: "server" },
      ]);
      expect(c.rejected[0]?.measurements.chars).toBe(typeof text === "string" ? text.length : 0);
      expect(c.echo).not.toHaveBeenCalled();
      expect(c.secret).not.toHaveBeenCalled();
      expect(isPolluted()).toBe(false);
      await expectStillServing(c, 0);
      expect(c.rejected).toHaveLength(1);
    },
  );

  it("drops a whole burst of hostile frames, one frame_rejected each, and still answers", async () => {
    const c = await cluster({ maxFrameBytes: SERVER_MAX_BYTES });
    for (const { text } of cases) c.hub.inject("server", text);
    await flush();
    expect(c.rejected.map((e) => e.metadata.code)).toEqual(cases.map((x) => x.code));
    expect(c.echo).not.toHaveBeenCalled();
    expect(c.handlerFailures).toEqual([]);
    await expectStillServing(c, 0);
  });

  it("answers a well-formed request for a private service with service_unavailable, never running it", async () => {
    const c = await cluster();
    const replies: unknown[] = [];
    c.hub.intercept((frame) => {
      const parsed = JSON.parse(frame.text);
      if (frame.from === "server" && parsed.kind === "reply") replies.push(parsed.envelope.response);
      return frame.text;
    });
    c.hub.inject(
      "server",
      json({ ...validFrames.request, from: "client", envelope: { serviceName: "secret", id: "m" } }),
    );
    await flush();
    expect(c.secret).not.toHaveBeenCalled();
    expect(c.rejected).toEqual([]);
    // Answered as if it were not there at all: a private service's name is not confirmed to a peer.
    expect(replies).toEqual([{ status: "service_unavailable", service: "secret", unknown: true }]);
    // The server's answer reaches the client, which has no such attempt pending.
    expect(c.lateAtClient.map((e) => e.metadata)).toEqual([{ attemptId: "att-1", from: "server", service: "secret" }]);
    await expectStillServing(c, 0);
  });

  it("drops a reply for an unknown attempt id as late_reply_dropped", async () => {
    const c = await cluster();
    const clientRejected: TelemetryEvent[] = [];
    c.client.telemetry.on("frame_rejected", (e) => clientRejected.push(e));
    c.hub.inject(
      "client",
      json({ ...validFrames.reply, from: "server", attemptId: "no-such-attempt", envelope: { ...envelope } }),
    );
    await flush();
    expect(c.lateAtClient.map((e) => e.metadata)).toEqual([
      { attemptId: "no-such-attempt", from: "server", service: "echo" },
    ]);
    expect(clientRejected).toEqual([]);
    await expectStillServing(c, 0);
    expect(c.lateAtClient).toHaveLength(1);
  });

  it("drops a forged reply from the wrong node for a real pending attempt; the real reply still wins", async () => {
    const { opened, open: release } = gate();
    const c = await cluster({ slow: () => opened });
    // A third, genuine peer on the same hub plays the forger.
    const mallory = createNode({ id: "mallory", announceIntervalMs: 0 });
    openNodes.push(mallory);
    await mallory.connect(c.hub.transport());
    await waitUntil(() => c.client.peers().includes("mallory"), "client to meet mallory");

    const requests: Array<{ attemptId: string; envelope: { id: string } }> = [];
    c.hub.intercept((frame) => {
      const parsed = JSON.parse(frame.text);
      if (frame.from === "client" && frame.to === "server" && parsed.kind === "request") requests.push(parsed);
      return frame.text;
    });
    const sent = Message.new("slow");
    let settled = false;
    const pending = c.client.dispatch(sent, { timeoutMs: 2_000 }).then((reply) => {
      settled = true;
      return reply;
    });
    await waitUntil(() => requests.length === 1, "the request to reach the server");
    const [request] = requests;
    if (!request) throw new Error("no request captured");

    c.hub.inject(
      "client",
      json({
        v: 1,
        kind: "reply",
        from: "mallory",
        attemptId: request.attemptId,
        envelope: { serviceName: "slow", id: sent.id, response: { status: "ok", payload: "forged" }, halted: true },
      }),
    );
    await flush();
    expect(c.lateAtClient.map((e) => e.metadata)).toEqual([
      { attemptId: request.attemptId, from: "mallory", service: "slow" },
    ]);
    expect(settled).toBe(false);

    release();
    const reply = await pending;
    expect(reply.response).toEqual({ status: "ok", payload: "real" });
    expect(reply.id).toBe(sent.id);
    expect(c.lateAtClient).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: random frames never break a node
// ---------------------------------------------------------------------------------------------

const HOSTILE_PLACEHOLDER = "HOSTILE_KEY_PLACEHOLDER";
const HOSTILE_KEYS = [
  '"__proto__"',
  String.raw`"\u005f_proto__"`,
  String.raw`"\u005F\u005Fproto\u005F\u005F"`,
  '"constructor"',
  String.raw`"\u0063onstructor"`,
  '"prototype"',
];

interface FuzzFrame {
  readonly text: string;
  /** Set for frames built to carry a prototype key. */
  readonly hostile?: boolean;
}

const smallJson = fc.jsonValue({ maxDepth: 2 });
const record = fc.dictionary(fc.string({ maxLength: 8 }), smallJson, { maxKeys: 4 });
/** A value of the right type most of the time, anything JSON otherwise. */
const mostly = <T>(arbitrary: fc.Arbitrary<T>, weight = 6) =>
  fc.oneof({ weight, arbitrary }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) });
const nodeName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("client", "mallory", "ghost-1", "n.2:x@y/z") },
  { weight: 1, arbitrary: fc.constantFrom("server", "local", "bad name", "", "__proto__", "x".repeat(201)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const serviceName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("echo", "secret", "slow", "missing") },
  { weight: 1, arbitrary: fc.constantFrom("bad name", "", "__proto__", "constructor", "toString") },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const id = fc.oneof(
  { weight: 20, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constant("i".repeat(201)) },
);
const response = fc.oneof(
  fc.constant(null),
  fc.record({ status: fc.constant("ok"), payload: smallJson }),
  fc.record({ status: fc.constant("error"), reason: smallJson }),
  fc.record({ status: fc.constantFrom("created", "bogus", "not_found"), id: mostly(fc.string()) }),
);
/** Random envelopes; `w` is how many times likelier a field's value is of the right type than anything else. */
const envelopeWith = (w: number) =>
  fc.record(
    {
      serviceName: mostly(
        fc.oneof({ weight: 2, arbitrary: fc.constant("echo") }, { weight: 3, arbitrary: serviceName }),
        w,
      ),
      id: mostly(id, w),
      correlationId: mostly(id, w),
      causationId: mostly(id, w),
      logContext: mostly(record, w),
      invokedAt: mostly(fc.integer(), w),
      dryRun: mostly(fc.constantFrom(true, false, "verbose"), w),
      rawRequest: mostly(record, w),
      request: smallJson,
      valid: mostly(fc.boolean(), w),
      assigns: mostly(record, w),
      response: mostly(response, w),
      events: mostly(fc.array(smallJson, { maxLength: 3 }), w),
      aggregateMeta: mostly(fc.record({ id: fc.string(), version: fc.integer() }, { requiredKeys: [] }), w),
      originNode: mostly(fc.oneof(fc.constant(null), nodeName), w),
      halted: mostly(fc.boolean(), w),
    },
    { requiredKeys: ["serviceName", "id"] },
  );
const randomEnvelope = envelopeWith(6);
const mostlyValidEnvelope = envelopeWith(60);
const attemptId = mostly(
  fc.oneof(
    { weight: 10, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) },
    { weight: 1, arbitrary: fc.constantFrom("", "a".repeat(201)) },
  ),
  10,
);

/** Frames with the right skeleton and random contents: any kind, any field may be missing or wrong. */
const plausibleFrame = fc.record(
  {
    v: mostly(fc.constant(1), 10),
    kind: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom("announce", "leave", "request", "reply") },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    ),
    from: mostly(nodeName, 10),
    attemptId,
    op: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("invoke", "authorize") },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    ),
    forwarded: mostly(fc.boolean()),
    services: mostly(fc.array(fc.record({ name: mostly(serviceName), router: mostly(nodeName) }), { maxLength: 4 })),
    envelope: mostly(randomEnvelope, 8),
  },
  { requiredKeys: ["kind"] },
);

/** Request frames for existing (and missing, and private) services: many are valid and must be served. */
const plausibleRequest = fc.record(
  {
    v: mostly(fc.constant(1), 20),
    kind: fc.constant("request"),
    from: mostly(nodeName, 20),
    attemptId,
    op: fc.oneof({ weight: 6, arbitrary: fc.constant("invoke") }, { weight: 1, arbitrary: fc.constant("authorize") }),
    forwarded: mostly(fc.boolean(), 20),
    envelope: fc.oneof(randomEnvelope, mostlyValidEnvelope),
  },
  { requiredKeys: ["v", "kind", "from", "attemptId", "op", "envelope"] },
);

/** Plants the placeholder key somewhere in the frame; it is swapped for a prototype key in the JSON text. */
function plantHostileKey(frame: Record<string, unknown>, where: string, value: unknown): Record<string, unknown> {
  const asObject = (x: unknown): Record<string, unknown> =>
    typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
  const env = asObject(frame.envelope);
  switch (where) {
    case "frame":
      return { ...frame, [HOSTILE_PLACEHOLDER]: value };
    case "envelope":
      return { ...frame, envelope: { ...env, [HOSTILE_PLACEHOLDER]: value } };
    case "events":
      return { ...frame, envelope: { ...env, events: [{ type: "x", [HOSTILE_PLACEHOLDER]: value }] } };
    case "deep":
      return {
        ...frame,
        envelope: { ...env, rawRequest: { ...asObject(env.rawRequest), a: { b: [{ [HOSTILE_PLACEHOLDER]: value }] } } },
      };
    default:
      return { ...frame, envelope: { ...env, [where]: { ...asObject(env[where]), [HOSTILE_PLACEHOLDER]: value } } };
  }
}

const hostileRequest: fc.Arbitrary<FuzzFrame> = fc
  .record({
    frame: plausibleRequest,
    where: fc.constantFrom("frame", "envelope", "rawRequest", "logContext", "assigns", "events", "deep"),
    key: fc.constantFrom(...HOSTILE_KEYS),
    value: fc.oneof(fc.constant({ polluted: true }), fc.constant({ isAdmin: true }), smallJson),
  })
  .map(({ frame, where, key, value }) => ({
    text: json(plantHostileKey(frame, where, value))
      .split(`"${HOSTILE_PLACEHOLDER}"`)
      .join(key),
    hostile: true,
  }));

/** Requests around the node's size limit. */
const nearLimitRequest: fc.Arbitrary<FuzzFrame> = fc
  .record({ frame: plausibleRequest, pad: fc.integer({ min: SERVER_MAX_BYTES - 600, max: SERVER_MAX_BYTES + 600 }) })
  .map(({ frame, pad }) => {
    const env = frame.envelope as Record<string, unknown>;
    return { text: json({ ...frame, envelope: { ...env, rawRequest: { pad: "x".repeat(pad) } } }) };
  });

const anythingAsJson = fc
  .anything({ maxDepth: 3 })
  .map((value) => {
    try {
      return JSON.stringify(value);
    } catch {
      return undefined;
    }
  })
  .filter((text): text is string => typeof text === "string");

const fuzzFrame: fc.Arbitrary<FuzzFrame> = fc.oneof(
  { weight: 2, arbitrary: fc.string().map((text) => ({ text })) },
  { weight: 2, arbitrary: fc.json().map((text) => ({ text })) },
  { weight: 2, arbitrary: anythingAsJson.map((text) => ({ text })) },
  { weight: 4, arbitrary: plausibleFrame.map((frame) => ({ text: json(frame) })) },
  { weight: 8, arbitrary: plausibleRequest.map((frame) => ({ text: json(frame) })) },
  { weight: 3, arbitrary: hostileRequest },
  { weight: 1, arbitrary: nearLimitRequest },
);

const isName = (value: unknown): value is string =>
  typeof value === "string" && NAME.test(value) && !FORBIDDEN.has(value);

const PUBLIC_SERVICES = ["echo", "slow"] as const;
type PublicService = (typeof PUBLIC_SERVICES)[number];

interface Verdict {
  tooLarge: boolean;
  notJson: boolean;
  forbiddenKey: boolean;
  /** The public service whose handler a correct node runs for this text, if any. */
  served: PublicService | null;
}

/** Independent oracle (no decodeFrame): what must a correct node do with this text? */
function classify(text: string): Verdict {
  const verdict: Verdict = { tooLarge: false, notJson: false, forbiddenKey: false, served: null };
  if (utf8.encode(text).byteLength > SERVER_MAX_BYTES) return { ...verdict, tooLarge: true };
  let forbiddenKey = false;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v) => {
      if (FORBIDDEN.has(key)) forbiddenKey = true;
      return v;
    });
  } catch {
    return { ...verdict, notJson: true };
  }
  if (forbiddenKey) return { ...verdict, forbiddenKey: true };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return verdict;
  const frame = value as Record<string, unknown>;
  const envelope = Message.safeParse(frame.envelope);
  const valid =
    frame.v === 1 &&
    frame.kind === "request" &&
    frame.op === "invoke" &&
    isName(frame.from) &&
    frame.from !== "server" &&
    frame.from !== "local" &&
    typeof frame.attemptId === "string" &&
    frame.attemptId.length >= 1 &&
    frame.attemptId.length <= 200 &&
    (frame.forwarded === undefined || typeof frame.forwarded === "boolean") &&
    envelope.ok;
  const service = envelope.ok ? envelope.value.serviceName : undefined;
  const served = valid ? (PUBLIC_SERVICES.find((name) => name === service) ?? null) : null;
  return { ...verdict, served };
}

function hasForbiddenOwnKey(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  return Object.keys(value).some(
    (key) => FORBIDDEN.has(key) || hasForbiddenOwnKey((value as Record<string, unknown>)[key]),
  );
}

describe("property: a node survives random frames", () => {
  it("drops every invalid frame, serves only valid requests, and still answers afterwards", async () => {
    const escaped: unknown[] = [];
    const onRejection = (reason: unknown) => escaped.push(reason);
    const onException = (error: unknown) => escaped.push(error);
    process.on("unhandledRejection", onRejection);
    process.on("uncaughtException", onException);
    try {
      const c = await cluster({ maxFrameBytes: SERVER_MAX_BYTES });
      const stats = { frames: 0, served: 0, hostile: 0, tooLarge: 0, invalid: 0 };
      const handlers = { echo: c.echo, slow: c.slow };

      await fc.assert(
        fc.asyncProperty(fuzzFrame, async ({ text, hostile }) => {
          stats.frames++;
          const verdict = classify(text);
          const callsBefore = { echo: c.echo.mock.calls.length, slow: c.slow.mock.calls.length };
          const rejectedBefore = c.rejected.length;

          c.hub.inject("server", text);
          await flush();

          const codes = c.rejected.slice(rejectedBefore).map((e) => e.metadata.code);
          const decoded = decodeFrame(text, SERVER_MAX_BYTES);

          if (verdict.tooLarge) expect(codes).toEqual([SdkErrorCode.FRAME_TOO_LARGE]);
          else if (verdict.notJson) expect(codes).toEqual([SdkErrorCode.INVALID_FRAME]);
          else if (verdict.forbiddenKey || hostile) expect(codes).toEqual([SdkErrorCode.FORBIDDEN_KEY]);
          else if (!decoded.ok) expect(codes).toEqual([SdkErrorCode.INVALID_FRAME]);
          else if (decoded.value.from === "server" || decoded.value.from === "local") {
            expect(codes).toEqual([SdkErrorCode.INVALID_FRAME]);
          } else {
            // Valid frames are never rejected; answering a phantom peer may fail to send, nothing else.
            for (const code of codes) expect(code).toBe("SEND_FAILED");
          }
          if (!decoded.ok) expect(decoded.error.code).toBe(codes[0]);

          // Exactly the handler of a valid request ran, once; no other handler ran.
          for (const name of PUBLIC_SERVICES) {
            const ran = handlers[name].mock.calls.length - callsBefore[name];
            expect(ran, `${name} handler runs`).toBe(verdict.served === name ? 1 : 0);
          }
          if (verdict.served) {
            const handled = handlers[verdict.served].mock.lastCall?.[0];
            expect(handled).toBeInstanceOf(Message);
            expect(hasForbiddenOwnKey(handled?.toJSON())).toBe(false);
          }

          if (verdict.served) stats.served++;
          if (hostile) stats.hostile++;
          if (verdict.tooLarge) stats.tooLarge++;
          if (!decoded.ok) stats.invalid++;
        }),
        { numRuns: 1_500 },
      );

      expect(stats.frames).toBeGreaterThanOrEqual(1_000);
      // The mix really exercised every path.
      expect(stats.served).toBeGreaterThan(20);
      expect(stats.hostile).toBeGreaterThan(20);
      expect(stats.tooLarge).toBeGreaterThan(0);
      expect(stats.invalid).toBeGreaterThan(200);

      expect(c.secret).not.toHaveBeenCalled();
      expect(c.handlerFailures).toEqual([]);
      expect(isPolluted()).toBe(false);

      // Still serving real traffic, and answering it right.
      await expectStillServing(c, c.echo.mock.calls.length);
      const reply = await c.client.dispatch(Message.new("echo", { rawRequest: { after: "fuzz" } }), {
        timeoutMs: 1_000,
      });
      expect(reply.response).toEqual({ status: "ok", payload: { echoed: { after: "fuzz" } } });

      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(escaped).toEqual([]);
    } finally {
      process.off("unhandledRejection", onRejection);
      process.off("uncaughtException", onException);
    }
  }, 20_000);
});
