// The edge attacked through every door (HTTP dispatch, the WebSocket, sync push and changes, tickets), inside
// workerd with real objects. Each row asserts the refusal, and each block checks afterwards that the data is
// exactly what the legitimate calls made: nothing an attacker sent changed anything.
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeFrame, Message, SYNC_PROTOCOL_VERSION } from "../../src/index.ts";
import { eventually, quiet } from "./edge-client-socket.ts";

const ORIGIN = "https://edge.test";
const json = { "content-type": "application/json" };
const as = (token: string) => ({ authorization: `Bearer ${token}`, ...json });

const post = (path: string, body: string, headers: Record<string, string>) =>
  exports.default.fetch(`${ORIGIN}${path}`, { method: "POST", headers, body });
const dispatch = (message: Message | object, token = "good") =>
  post("/x3m/dispatch", JSON.stringify(message instanceof Message ? message.toJSON() : message), as(token));

const ownedState = async (id: string) =>
  (await env.OWNED_ACCOUNTS.get(env.OWNED_ACCOUNTS.idFromName(id)).state(id)) as
    | { version: number; state: { owner: string; balance: number } }
    | undefined;

/** Ada's account, with 100 in it: the target of every attack below. */
let victim: string;
beforeAll(async () => {
  victim = `owned-${crypto.randomUUID()}`;
  expect((await dispatch(Message.new("owned_open", { rawRequest: { id: victim } }))).status).toBe(201);
  expect((await dispatch(Message.new("owned_deposit", { rawRequest: { id: victim, amount: 100 } }))).status).toBe(200);
});

/** What every block ends with: Ada's account exactly as she left it. */
async function untouched() {
  expect(await ownedState(victim)).toEqual({
    version: 1,
    state: { id: victim, owner: "ada", balance: 100, closed: false, rejections: 0 },
  });
}

const envelope = (service: string, rawRequest: object, extra: object = {}) => ({
  ...Message.new(service, { rawRequest }).toJSON(),
  ...extra,
});

describe("red team: HTTP dispatch", () => {
  const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
  const chunked = (chunks: number) => {
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < chunks) controller.enqueue(chunk);
        else controller.close();
      },
    });
  };
  // Built when a row runs: the account exists only once `beforeAll` has made it.
  const withdrawAll = () => JSON.stringify(envelope("owned_withdraw", { id: victim, amount: 100 }));

  it.each([
    ["no credentials", () => post("/x3m/dispatch", withdrawAll(), json), 401, "UNAUTHENTICATED"],
    ["a wrong token", () => post("/x3m/dispatch", withdrawAll(), as("nope")), 401, "UNAUTHENTICATED"],
    ["a token in the URL", () => post("/x3m/dispatch?token=good", withdrawAll(), json), 401, "UNAUTHENTICATED"],
    ["another owner's account", () => post("/x3m/dispatch", withdrawAll(), as("bob")), 403, undefined],
    [
      "forged assigns (a principal of one's own)",
      () =>
        post(
          "/x3m/dispatch",
          JSON.stringify(
            envelope("owned_withdraw", { id: victim, amount: 100 }, { assigns: { principal: { user: "ada" } } }),
          ),
          as("bob"),
        ),
      403,
      undefined,
    ],
    [
      "a preset response",
      () =>
        post(
          "/x3m/dispatch",
          JSON.stringify(
            envelope("owned_withdraw", { id: victim, amount: 1 }, { response: { status: "ok", version: 999 } }),
          ),
          as("bob"),
        ),
      400,
      "INVALID_MESSAGE",
    ],
    [
      "a halted envelope",
      () =>
        post(
          "/x3m/dispatch",
          JSON.stringify(envelope("owned_withdraw", { id: victim, amount: 1 }, { halted: true })),
          as("bob"),
        ),
      400,
      "INVALID_MESSAGE",
    ],
    [
      "a prototype key",
      () =>
        post(
          "/x3m/dispatch",
          `{"serviceName":"owned_withdraw","id":"m-1","rawRequest":{"__proto__":{"admin":true}}}`,
          as("bob"),
        ),
      400,
      "FORBIDDEN_KEY",
    ],
    ["deep nesting", () => post("/x3m/dispatch", deep(200), as("bob")), 400, "INVALID_JSON"],
    ["malformed JSON", () => post("/x3m/dispatch", "{ not json", as("bob")), 400, "INVALID_JSON"],
    [
      "a text/plain body",
      () => post("/x3m/dispatch", withdrawAll(), { authorization: "Bearer bob", "content-type": "text/plain" }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    ],
    [
      "a form body",
      () =>
        post("/x3m/dispatch", "a=1", {
          authorization: "Bearer bob",
          "content-type": "application/x-www-form-urlencoded",
        }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    ],
    [
      "an oversized body",
      () =>
        post(
          "/x3m/dispatch",
          JSON.stringify(envelope("owned_withdraw", { id: victim, pad: "x".repeat(70_000) })),
          as("bob"),
        ),
      413,
      "PAYLOAD_TOO_LARGE",
    ],
    [
      "an oversized chunked body (no content-length)",
      () => exports.default.fetch(`${ORIGIN}/x3m/dispatch`, { method: "POST", headers: as("bob"), body: chunked(20) }),
      413,
      "PAYLOAD_TOO_LARGE",
    ],
    ["GET", () => exports.default.fetch(`${ORIGIN}/x3m/dispatch`, { headers: as("bob") }), 405, "METHOD_NOT_ALLOWED"],
  ] as const)("refuses %s", async (_case, send, status, code) => {
    const response = await send();
    expect(response.status).toBe(status);
    if (code) expect(await response.json()).toMatchObject({ error: { code } });
  });

  it("a read of another owner's state is denied; the owner's is served", async () => {
    expect((await dispatch(Message.new("owned_state", { rawRequest: { id: victim } }), "bob")).status).toBe(403);
    expect((await dispatch(Message.new("owned_state", { rawRequest: { id: victim } }), "good")).status).toBe(200);
    await untouched();
  });

  it("leaves Ada's account exactly as it was", untouched);
});

describe("red team: sync push and changes", () => {
  const push = (token: string, commands: unknown[], extra: object = {}) =>
    post(
      "/x3m/sync/push",
      JSON.stringify({
        protocol: SYNC_PROTOCOL_VERSION,
        clientId: `client-${crypto.randomUUID()}`,
        commands,
        ...extra,
      }),
      as(token),
    );
  const pushed = (service: string, rawRequest: { id: string; amount?: number }, seq = 1, extra: object = {}) => {
    const message = Message.new(service, { rawRequest });
    return {
      aggregate: "owned_account",
      aggregateId: rawRequest.id,
      seq,
      messageId: message.id,
      command: { ...message.toJSON(), ...extra },
    };
  };

  it("cross-owner commands, forged assigns and preset answers are refused per command, and recorded", async () => {
    const response = await push("bob", [
      pushed("owned_withdraw", { id: victim, amount: 100 }, 1),
      pushed("owned_withdraw", { id: victim, amount: 100 }, 2, { assigns: { principal: { user: "ada" } } }),
      pushed("owned_withdraw", { id: victim, amount: 100 }, 3, { response: { status: "ok" } }),
      pushed("owned_deposit", { id: victim, amount: -5 }, 4, { events: [{ type: "Deposited", amount: 1_000_000 }] }),
    ]);
    expect(response.status).toBe(200);
    const { results } = (await response.json()) as { results: { status: string; response: { status: string } }[] };
    expect(results.map((r) => [r.status, r.response.status])).toEqual([
      ["rejected", "error"],
      ["rejected", "error"],
      ["rejected", "validation_error"],
      ["rejected", "error"],
    ]);
    await untouched();
  });

  it.each([
    ["no credentials", () => post("/x3m/sync/push", "{}", json), 401, "UNAUTHENTICATED"],
    [
      "a text/plain push (no CORS preflight)",
      () => post("/x3m/sync/push", "{}", { authorization: "Bearer bob", "content-type": "text/plain" }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    ],
    [
      "protocol 1",
      () => post("/x3m/sync/push", JSON.stringify({ protocol: 1, commands: [] }), as("bob")),
      400,
      "UNSUPPORTED_PROTOCOL",
    ],
    [
      "no protocol",
      () => post("/x3m/sync/push", JSON.stringify({ commands: [] }), as("bob")),
      400,
      "UNSUPPORTED_PROTOCOL",
    ],
    [
      "a malformed push",
      () => post("/x3m/sync/push", JSON.stringify({ protocol: 2, clientId: "short", commands: [] }), as("bob")),
      400,
      "INVALID_REQUEST",
    ],
    ["a prototype key", () => post("/x3m/sync/push", '{"protocol":2,"__proto__":{}}', as("bob")), 400, "FORBIDDEN_KEY"],
    ["GET", () => exports.default.fetch(`${ORIGIN}/x3m/sync/push`, { headers: as("bob") }), 405, "METHOD_NOT_ALLOWED"],
  ] as const)("refuses %s", async (_case, send, status, code) => {
    const response = await send();
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ error: { code } });
  });

  it("another owner's changes are an error of their own; the owner's are served", async () => {
    const cursors = [{ aggregate: "owned_account", id: victim, after: -1 }];
    const body = (clientId: string) => JSON.stringify({ protocol: 2, clientId, cursors });
    const bob = (await (await post("/x3m/sync/changes", body(`client-${crypto.randomUUID()}`), as("bob"))).json()) as {
      changes: unknown[];
      errors: { code: string }[];
    };
    expect(bob.changes).toEqual([]);
    expect(bob.errors.map((e) => e.code)).toEqual(["FORBIDDEN"]);
    const ada = (await (await post("/x3m/sync/changes", body(`client-${crypto.randomUUID()}`), as("good"))).json()) as {
      changes: { events: unknown[] }[];
    };
    expect(ada.changes[0]?.events).toHaveLength(2);
    await untouched();
  });
});

describe("red team: the WebSocket", () => {
  async function socket(query: string) {
    const response = await exports.default.fetch(`${ORIGIN}/x3m/ws${query}`, { headers: { Upgrade: "websocket" } });
    const ws = response.webSocket;
    if (!ws) return { response, ws: null, frames: [] as Record<string, unknown>[] };
    ws.accept();
    const frames: Record<string, unknown>[] = [];
    ws.addEventListener("message", (event) => frames.push(JSON.parse(event.data as string)));
    return { response, ws, frames };
  }

  it.each([
    ["no credentials", ""],
    ["a wrong token", "?token=nope"],
    ["a forged ticket", "?ticket=eyJwIjp7InVzZXIiOiJhZGEifSwiZXhwIjo5OTk5OTk5OTk5OTk5fQ.AAAA"],
  ])("refuses an upgrade with %s (401, no socket)", async (_case, query) => {
    const { response, ws } = await socket(query);
    expect(response.status).toBe(401);
    expect(ws).toBeNull();
  });

  it("cross-owner commands, forged assigns, preset answers and a flood of garbage: each refused, the socket serves on", async () => {
    const bob = await socket("?token=bob");
    const ws = bob.ws as WebSocket;
    const request = (attemptId: string, envelopeData: object) =>
      JSON.stringify({ v: 1, kind: "request", from: "bob-tab", attemptId, op: "invoke", envelope: envelopeData });
    ws.send(request("cross", envelope("owned_withdraw", { id: victim, amount: 100 })));
    ws.send(
      request(
        "forged",
        envelope("owned_withdraw", { id: victim, amount: 100 }, { assigns: { principal: { user: "ada" } } }),
      ),
    );
    ws.send(request("preset", envelope("owned_withdraw", { id: victim, amount: 100 }, { response: { status: "ok" } })));
    for (let i = 0; i < 1_000; i++) ws.send(i % 2 ? "garbage" : '{"v":1,"kind":"request","from":"bob-tab"}');
    ws.send(request("after", envelope("owned_state", { id: victim })));
    const replyTo = (attemptId: string) =>
      bob.frames.find((f) => f.kind === "reply" && f.attemptId === attemptId) as
        | { envelope: { response: { status: string; reason?: unknown } } }
        | undefined;
    await eventually("every answer", () => ["cross", "forged", "preset", "after"].every((a) => replyTo(a)), 20_000);
    expect(replyTo("cross")?.envelope.response).toEqual({ status: "error", reason: "forbidden", denied: true });
    expect(replyTo("forged")?.envelope.response).toEqual({ status: "error", reason: "forbidden", denied: true });
    expect(replyTo("preset")?.envelope.response).toMatchObject({
      status: "error",
      reason: { code: "INVALID_MESSAGE" },
    });
    expect(replyTo("after")?.envelope.response).toEqual({ status: "error", reason: "forbidden", denied: true }); // a read is denied too
    ws.close(1000, "done");
    await untouched();
  });

  it("an oversized frame is refused with FRAME_TOO_LARGE; the connection stays open", async () => {
    const bob = await socket("?token=bob");
    const ws = bob.ws as WebSocket;
    const big = encodeFrame(
      {
        kind: "request",
        from: "bob-tab",
        attemptId: "big",
        op: "invoke",
        envelope: Message.new("owned_withdraw", { rawRequest: { id: victim, amount: 1, pad: "x".repeat(70_000) } }),
      },
      1_000_000,
    );
    ws.send(big);
    await eventually("the refusal", () => bob.frames.some((f) => f.live === "refused" && f.attemptId === "big"));
    await quiet();
    ws.close(1000, "done");
    await untouched();
  });
});
