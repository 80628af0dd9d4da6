// The edge Worker's HTTP dispatch endpoint inside workerd, through the suite's Worker (`exports.default`):
// authentication before the body, size limits, validation, trust of assigns and events, private services,
// and the HTTP status of every response.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import {
  type EdgeWorkerOptions,
  type Principal,
  resolveEdgeOptions,
} from "../../adapters/durable-objects/edge-options.ts";
import { handleDispatch, httpStatusOf } from "../../adapters/durable-objects/http-endpoint.ts";
import { aggregateServices } from "../../adapters/durable-objects/index.ts";
import { defineRouter, Message, type MessageData, Response as X3mResponse } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";

const DISPATCH = "https://edge.test/x3m/dispatch";
const LIMIT = 65_536; // the default maxBodyBytes

type Answer = Omit<MessageData, "request" | "assigns">;
type Refusal = { error: { code: string; message: string; details?: unknown } };

const headers = (token = "good") => ({ authorization: `Bearer ${token}`, "content-type": "application/json" });

/** A raw POST: any body, any headers. */
const post = (body: BodyInit | null, init: { headers?: Record<string, string>; method?: string } = {}) =>
  exports.default.fetch(DISPATCH, { method: "POST", headers: headers(), body, ...init });

/** POSTs one envelope, as a client does. */
const send = (envelope: object, token = "good") => post(JSON.stringify(envelope), { headers: headers(token) });

/** The envelope of a new message to `service`, with fields a client may add or forge. */
const envelope = (service: string, rawRequest: object = {}, extra: object = {}) => ({
  ...Message.new(service, { rawRequest }).toJSON(),
  ...extra,
});

const call = async (service: string, rawRequest: object = {}, extra: object = {}) => {
  const response = await send(envelope(service, rawRequest, extra));
  return { status: response.status, body: (await response.json()) as Answer };
};

const refusal = async (response: Response) => ({ status: response.status, ...((await response.json()) as Refusal) });

const newAccount = async () => {
  const id = `acc-${crypto.randomUUID()}`;
  expect((await call("http_open", { id, owner: "ada" })).status).toBe(201);
  return id;
};

const accountState = (id: string) => aggregateServices(env.ACCOUNTS, account).state(id);

/** A body that arrives in chunks without `content-length`, as a chunked upload does. */
function chunkedBody(text: string, chunkBytes = 1_024): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunkBytes));
      offset += chunkBytes;
    },
  });
}

describe("dispatch: the resolved envelope and its HTTP status", () => {
  it("opens an account with 201 (id and version) and deposits with 200 and the new version", async () => {
    const id = `acc-${crypto.randomUUID()}`;
    const opened = await call("http_open", { id, owner: "ada" });
    expect(opened.status).toBe(201);
    expect(opened.body.response).toEqual({ status: "created", id, version: 0 });
    const deposited = await call("http_deposit", { id, amount: 10 });
    expect(deposited.status).toBe(200);
    expect(deposited.body.response).toEqual({ status: "ok", version: 1 });
    expect(deposited.body).toMatchObject({ serviceName: "http_deposit", halted: true, originNode: "edge" });
  });

  it("answers without request and assigns: the principal never goes back to the client", async () => {
    const { body } = await call("http_echo", {}, { assigns: { locale: "sl" } });
    expect(body).not.toHaveProperty("request");
    expect(body).not.toHaveProperty("assigns");
    expect(body.response).toMatchObject({ status: "ok", payload: { assigns: { locale: "sl" } } });
  });

  it("maps validation errors and a missing id to 422, an unknown aggregate to 404, a duplicate to 409", async () => {
    const id = await newAccount();
    const invalid = await call("http_deposit", { id, amount: -5 });
    expect(invalid.status).toBe(422);
    expect(invalid.body.response).toMatchObject({ status: "validation_error", issues: [{ path: ["amount"] }] });
    expect((await call("http_deposit", { amount: 5 })).body.response).toEqual({ status: "missing_id", field: "id" });
    expect((await call("http_deposit", { amount: 5 })).status).toBe(422);
    const missing = await call("http_deposit", { id: `acc-${crypto.randomUUID()}`, amount: 1 });
    expect([missing.status, missing.body.response]).toEqual([404, { status: "not_found" }]);
    const again = await call("http_open", { id, owner: "bob" });
    expect([again.status, again.body.response]).toEqual([409, { status: "already_exists" }]);
  });

  it("maps a domain error to 400 and the router's denial to 403", async () => {
    const id = await newAccount();
    const rejected = await call("http_withdraw", { id, amount: 99 });
    expect([rejected.status, rejected.body.response]).toEqual([400, { status: "error", reason: "insufficient_funds" }]);
    const denied = await call("http_close_books");
    expect([denied.status, denied.body.response]).toEqual([
      403,
      { status: "error", reason: "forbidden", denied: true },
    ]);
  });

  it("answers a service the edge never heard of with 404 service_unavailable marked unknown", async () => {
    const { status, body } = await call("http_nobody_offers_this");
    expect([status, body.response]).toEqual([
      404,
      { status: "service_unavailable", service: "http_nobody_offers_this", unknown: true },
    ]);
  });

  it("every response status end to end (through a service that answers what it is sent)", async () => {
    const cases: [X3mResponse, number][] = [
      [X3mResponse.ok("payload"), 200],
      [X3mResponse.ok(undefined, 3), 200],
      [X3mResponse.created("x", 0), 201],
      [X3mResponse.unauthorized("no"), 403],
      [X3mResponse.wrongExpectedVersion(1, 2), 409],
      [X3mResponse.noNodesAvailable([]), 503],
      [X3mResponse.serviceTimeout("s", "m", 5), 504],
    ];
    for (const [response, status] of cases) {
      const answer = await call("http_mirror", { response });
      expect([answer.status, answer.body.response]).toEqual([status, response]);
    }
  });

  it("answers ok without payload and version with 204 and no body", async () => {
    const response = await send(envelope("http_mirror", { response: X3mResponse.ok() }));
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
  });

  it("a re-sent envelope (same id) gets the same answer and produces one event", async () => {
    const id = await newAccount();
    const deposit = envelope("http_deposit", { id, amount: 7 });
    const first = (await (await send(deposit)).json()) as Answer;
    const second = (await (await send(deposit)).json()) as Answer;
    expect(second.response).toEqual(first.response);
    expect(first.response).toEqual({ status: "ok", version: 1 });
    expect(await accountState(id)).toMatchObject({ version: 1, state: { balance: 7 } });
  });
});

describe("dispatch: what the edge trusts", () => {
  it("drops client assigns except the trusted ones and sets the principal itself", async () => {
    const forged = { locale: "sl", principal: { user: "mallory", admin: true }, role: "root" };
    const { body } = await call("http_echo", {}, { assigns: forged });
    expect(body.response).toEqual({
      status: "ok",
      payload: { assigns: { locale: "sl", principal: { user: "ada" } }, events: [] },
    });
  });

  it("a forged admin principal does not pass an admin-only authorize", async () => {
    const denied = await call("http_close_books", {}, { assigns: { principal: { user: "ada", admin: true } } });
    expect(denied.status).toBe(403);
  });

  it("never persists events sent by the client", async () => {
    const id = await newAccount();
    const forged = [{ type: "Deposited", amount: 1_000_000 }];
    const { status } = await call("http_deposit", { id, amount: 5 }, { events: forged });
    expect(status).toBe(200);
    expect(await accountState(id)).toMatchObject({ version: 1, state: { balance: 5 } });
    expect((await call("http_echo", {}, { events: forged })).body.response).toMatchObject({ payload: { events: [] } });
  });

  it("a private service is unreachable: answered exactly like a service nobody offers", async () => {
    const secret = await call("http_secret");
    const nobody = await call("http_nobody_offers_this");
    expect([secret.status, secret.body.response]).toEqual([
      nobody.status,
      { ...nobody.body.response, service: "http_secret" },
    ]);
    expect(secret.status).toBe(404);
  });
});

describe("dispatch: refused before dispatch", () => {
  it("401 without a token, with a bad one, and when authenticate throws", async () => {
    const body = JSON.stringify(envelope("http_echo"));
    for (const response of [
      await post(body, { headers: { "content-type": "application/json" } }),
      await post(body, { headers: headers("bad") }),
      await post(body, { headers: headers("boom") }),
    ]) {
      expect(await refusal(response)).toMatchObject({ status: 401, error: { code: "UNAUTHENTICATED" } });
    }
  });

  it("authenticates before looking at the body: garbage, oversize or the wrong type still get 401", async () => {
    const anonymous = { "content-type": "text/plain" };
    expect((await post("{ not json", { headers: headers("bad") })).status).toBe(401);
    expect((await post("x".repeat(LIMIT + 1), { headers: headers("bad") })).status).toBe(401);
    expect((await post(chunkedBody("x".repeat(LIMIT * 2)), { headers: headers("bad") })).status).toBe(401);
    expect((await post("{}", { headers: anonymous })).status).toBe(401);
  });

  it("405 with Allow: POST for other methods, 415 for bodies that are not JSON", async () => {
    const get = await exports.default.fetch(DISPATCH, { headers: headers() });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect((await refusal(get)).error.code).toBe("METHOD_NOT_ALLOWED");
    const text = await post(JSON.stringify(envelope("http_echo")), {
      headers: { authorization: "Bearer good", "content-type": "text/plain" },
    });
    expect(await refusal(text)).toMatchObject({ status: 415, error: { code: "UNSUPPORTED_MEDIA_TYPE" } });
    const withCharset = await post(JSON.stringify(envelope("http_echo")), {
      headers: { ...headers(), "content-type": "Application/JSON; charset=utf-8" },
    });
    expect(withCharset.status).toBe(200);
  });

  it("413 over maxBodyBytes: declared by content-length, or counted in a chunked body", async () => {
    const padded = JSON.stringify(envelope("http_echo", { pad: "x".repeat(LIMIT) }));
    expect(await refusal(await post(padded))).toMatchObject({ status: 413, error: { code: "PAYLOAD_TOO_LARGE" } });
    const chunked = await post(chunkedBody(padded));
    expect(await refusal(chunked)).toMatchObject({ status: 413, error: { code: "PAYLOAD_TOO_LARGE" } });
    const fits = await post(chunkedBody(JSON.stringify(envelope("http_echo", { pad: "x".repeat(1_000) }))));
    expect(fits.status).toBe(200);
  });

  it("400 for malformed JSON, a prototype key, wrong types, and envelopes that are answers", async () => {
    expect(await refusal(await post("{ not json"))).toMatchObject({ status: 400, error: { code: "INVALID_JSON" } });
    const proto = '{"serviceName":"http_echo","id":"m-1","rawRequest":{"__proto__":{"admin":true}}}';
    expect(await refusal(await post(proto))).toMatchObject({ status: 400, error: { code: "FORBIDDEN_KEY" } });
    const wrongTypes = await refusal(await send({ serviceName: 42, id: "m-1", dryRun: "maybe" }));
    expect(wrongTypes).toMatchObject({ status: 400, error: { code: "INVALID_MESSAGE" } });
    expect(wrongTypes.error.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: ["serviceName"] })]),
    );
    const halted = await send(envelope("http_echo", {}, { halted: true }));
    expect(await refusal(halted)).toMatchObject({ status: 400, error: { code: "INVALID_MESSAGE" } });
    const answered = await send(envelope("http_echo", {}, { response: { status: "ok" } }));
    expect(await refusal(answered)).toMatchObject({ status: 400, error: { code: "INVALID_MESSAGE" } });
  });
});

describe("handleDispatch called directly", () => {
  const echo = defineRouter({ name: "echo", services: { echo: (msg) => msg.ok() }, authorize: () => true });
  const options = (overrides: Partial<EdgeWorkerOptions<Cloudflare.Env>> = {}) =>
    resolveEdgeOptions<Cloudflare.Env>({ routers: () => [echo], authenticate: () => ({ user: "ada" }), ...overrides });
  const request = (body: string) => new Request(DISPATCH, { method: "POST", headers: headers(), body });

  it("runs authenticate while the body is untouched, and leaves it unread when it refuses", async () => {
    const seen: boolean[] = [];
    const watching = (principal: Principal | null) => (r: Request) => {
      seen.push(r.bodyUsed);
      return principal;
    };
    const refused = request("{ not json");
    const answer = await handleDispatch(refused, env, options({ authenticate: watching(null) }));
    expect([answer.status, seen, refused.bodyUsed]).toEqual([401, [false], false]);
    const accepted = request(JSON.stringify(envelope("echo")));
    const ok = await handleDispatch(accepted, env, options({ authenticate: watching({ user: "ada" }) }));
    expect([ok.status, seen, accepted.bodyUsed]).toEqual([204, [false, false], true]);
  });

  it("honours a custom maxBodyBytes, and refuses a declared oversize body without reading it", async () => {
    const body = JSON.stringify(envelope("echo", { pad: "x".repeat(200) }));
    expect((await handleDispatch(request(body), env, options({ maxBodyBytes: 100 }))).status).toBe(413);
    expect((await handleDispatch(request(body), env, options({ maxBodyBytes: 1_000 }))).status).toBe(204);
    const declared = new Request(DISPATCH, {
      method: "POST",
      headers: { ...headers(), "content-length": String(body.length) },
      body,
    });
    expect(declared.headers.get("content-length")).toBe(String(body.length));
    expect((await handleDispatch(declared, env, options({ maxBodyBytes: 100 }))).status).toBe(413);
    expect(declared.bodyUsed).toBe(false);
  });

  it("answers a failing app wiring with a typed 500 that shows no internals", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const broken = options({
      routers: () => {
        throw new Error("secret connection string");
      },
    });
    const answer = await handleDispatch(request(JSON.stringify(envelope("echo"))), env, broken);
    const text = await answer.text();
    expect(answer.status).toBe(500);
    expect(JSON.parse(text)).toMatchObject({ error: { code: "INTERNAL_ERROR" } });
    expect(text).not.toContain("secret");
    expect(logged).toHaveBeenCalledOnce();
    logged.mockRestore();
  });
});

describe("httpStatusOf", () => {
  it("maps every response status", () => {
    const cases: [X3mResponse | null, number][] = [
      [X3mResponse.created("a", 0), 201],
      [X3mResponse.ok(1), 200],
      [X3mResponse.ok(undefined, 0), 200],
      [X3mResponse.ok(), 204],
      [X3mResponse.validationError([]), 422],
      [X3mResponse.missingId("id"), 422],
      [X3mResponse.notFound(), 404],
      [X3mResponse.forbidden(), 403],
      [X3mResponse.denied("login required"), 403],
      [X3mResponse.denied({ forbidden: "no-interns" }), 403],
      [X3mResponse.error("forbidden"), 403],
      [X3mResponse.unauthorized(), 403],
      [X3mResponse.wrongExpectedVersion(0, 1), 409],
      [X3mResponse.alreadyExists(), 409],
      [X3mResponse.serviceUnavailable("s"), 503],
      [X3mResponse.unknownService("s"), 404],
      [X3mResponse.noNodesAvailable([]), 503],
      [X3mResponse.tryAnotherNode("r"), 503],
      [X3mResponse.serviceTimeout("s", "m", 1), 504],
      [X3mResponse.error("insufficient_funds"), 400],
      [X3mResponse.error({ exception: { name: "Error", message: "x" } }), 400],
      // The object's storage failed: a server-side failure, nothing changed, send it again.
      [X3mResponse.error({ code: "load_failed", message: "disk" }), 503],
      [X3mResponse.error({ code: "save_failed", message: "disk" }), 503],
      [X3mResponse.error({ code: "other", message: "x" }), 400],
      [null, 500],
    ];
    for (const [response, status] of cases) expect([response, httpStatusOf(response)]).toEqual([response, status]);
  });
});
