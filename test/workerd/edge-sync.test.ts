// The server side of offline sync (protocol 2), inside workerd with real aggregate objects: pushes run per
// aggregate in the client's order and exactly once by client sequence (no window), refusals are final and
// never block, changes come in one request, and every door check of the edge applies.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type AggregateNamespace, aggregateServices, createEdgeWorker } from "../../adapters/durable-objects/index.ts";
import { type ChangesReply, defineRouter, Message, type PushResult, SYNC_PROTOCOL_VERSION } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";

function edge(options: { allowPull?: boolean; accounts?: AggregateNamespace } = {}) {
  return createEdgeWorker({
    routers: (e) => {
      const accounts = aggregateServices(options.accounts ?? e.ACCOUNTS, account);
      return [
        defineRouter({
          name: "accounts",
          services: {
            open: accounts.onNew("open"),
            deposit: accounts.on("deposit"),
            withdraw: accounts.on("withdraw"),
            close: accounts.on("withdraw_all_and_close"),
            admin_deposit: accounts.on("deposit"),
            echo: (msg) => msg.ok("not an aggregate command"),
          },
          // Admin-only for admin_deposit; every other call needs a principal.
          authorize: (msg) =>
            msg.serviceName === "admin_deposit" ? false : msg.assigns.principal !== undefined || "login required",
        }),
      ];
    },
    authenticate: (request) => (request.headers.get("authorization") === "Bearer good" ? { user: "ada" } : null),
    sync: {
      aggregates: (e) => ({ account: options.accounts ?? e.ACCOUNTS }),
      ...(options.allowPull ? { authorizePull: ({ principal }) => principal.user === "ada" } : {}),
    },
  });
}

type Worker = ReturnType<typeof edge>;

/** The account's state and version, read from its object. */
const stateOf = async (id: string) =>
  (await env.ACCOUNTS.get(env.ACCOUNTS.idFromName(id)).state(id)) as
    | { version: number; state: { balance: number } }
    | undefined;

const post = (worker: Worker, path: string, body: unknown, init: { token?: string; type?: string } = {}) =>
  worker.fetch(
    new Request(`https://edge.test${path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${init.token ?? "good"}`,
        "content-type": init.type ?? "application/json",
      },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
    env,
  );

/** An offline client: a random id and a sequence counter per aggregate, as the browser keeps them. */
function client() {
  const clientId = `client-${crypto.randomUUID()}`;
  const seqs = new Map<string, number>();
  const pushed = (service: string, rawRequest: Record<string, unknown> & { id: string }, seq?: number) => {
    const next = seq ?? (seqs.get(rawRequest.id) ?? 0) + 1;
    seqs.set(rawRequest.id, Math.max(next, seqs.get(rawRequest.id) ?? 0));
    const message = Message.new(service, { rawRequest });
    return {
      aggregate: "account",
      aggregateId: rawRequest.id,
      seq: next,
      messageId: message.id,
      command: message.toJSON(),
    };
  };
  return { clientId, pushed };
}

async function push(worker: Worker, clientId: string, commands: unknown[]): Promise<PushResult[]> {
  const response = await post(worker, "/x3m/sync/push", { protocol: SYNC_PROTOCOL_VERSION, clientId, commands });
  expect(response.status).toBe(200);
  return ((await response.json()) as { results: PushResult[] }).results;
}

async function changes(worker: Worker, clientId: string, cursors: unknown[], limit?: number): Promise<ChangesReply> {
  const response = await post(worker, "/x3m/sync/changes", {
    protocol: SYNC_PROTOCOL_VERSION,
    clientId,
    cursors,
    ...(limit ? { limit } : {}),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as ChangesReply;
}

describe("sync push", () => {
  it("applies a batch in order and answers a re-pushed batch with the original responses, once", async () => {
    const worker = edge({ allowPull: true });
    const { clientId, pushed } = client();
    const id = `acc-${crypto.randomUUID()}`;
    const batch = [
      pushed("open", { id, owner: "ada" }),
      pushed("deposit", { id, amount: 5 }),
      pushed("deposit", { id, amount: 7 }),
    ];
    const first = await push(worker, clientId, batch);
    expect(first.map((r) => [r.status, r.response])).toEqual([
      ["applied", { status: "created", id, version: 0 }],
      ["applied", { status: "ok", version: 1 }],
      ["applied", { status: "ok", version: 2 }],
    ]);
    expect(await push(worker, clientId, batch)).toEqual(first);
    const reply = await changes(worker, clientId, [{ aggregate: "account", id, after: -1 }]);
    expect(reply.changes).toHaveLength(1);
    expect(reply.changes[0]?.events.map((e) => e.type)).toEqual(["AccountOpened", "Deposited", "Deposited"]);
    expect(reply.changes[0]).toMatchObject({ version: 2, seq: 3 });
  });

  it("re-pushed after 10,000 newer commands on the aggregate, a deposit is answered and applied once", async () => {
    const worker = edge({ allowPull: true });
    const ada = client();
    const id = `acc-${crypto.randomUUID()}`;
    await push(worker, ada.clientId, [ada.pushed("open", { id, owner: "ada" })]);
    const deposit = ada.pushed("deposit", { id, amount: 1_000 });
    const [first] = await push(worker, ada.clientId, [deposit]);
    expect(first).toMatchObject({ status: "applied", response: { status: "ok", version: 1 } });
    const other = client();
    for (let batch = 0; batch < 20; batch++) {
      const commands = Array.from({ length: 500 }, () => other.pushed("deposit", { id, amount: 1 }));
      const results = await push(worker, other.clientId, commands);
      expect(results.every((r) => r.status === "applied")).toBe(true);
    }
    const [again] = await push(worker, ada.clientId, [deposit]);
    expect(again).toEqual(first);
    const state = await stateOf(id);
    expect(state).toMatchObject({ version: 10_001, state: { balance: 11_000 } });
  });

  it("a rejected command, an invalid envelope, an unknown service and a router's denial are answered and never block", async () => {
    const worker = edge({ allowPull: true });
    const { clientId, pushed } = client();
    const id = `acc-${crypto.randomUUID()}`;
    const batch = [
      pushed("open", { id, owner: "ada" }),
      pushed("withdraw", { id, amount: 99 }),
      pushed("deposit", { id, amount: 1 }),
      pushed("deposit", { id, amount: 1 }),
      pushed("missing_service", { id }),
      pushed("echo", { id }),
      pushed("admin_deposit", { id, amount: 1_000_000 }),
      pushed("deposit", { id, amount: 1 }),
    ];
    const broken = { ...batch[2], command: { nonsense: true } };
    const forged = {
      ...batch[3],
      command: { ...(batch[3]?.command as object), response: { status: "ok", version: 999 } },
    };
    batch[2] = broken as unknown as (typeof batch)[number];
    batch[3] = forged as unknown as (typeof batch)[number];
    const out = await push(worker, clientId, batch);
    expect(out.map((r) => r.status)).toEqual([
      "applied",
      "rejected",
      "rejected",
      "rejected",
      "rejected",
      "rejected",
      "rejected",
      "applied",
    ]);
    expect(out[1]?.response).toEqual({ status: "error", reason: "insufficient_funds" });
    expect(out.slice(2, 4).map((r) => r.response?.status)).toEqual(["validation_error", "validation_error"]);
    expect(out[4]?.response).toEqual({ status: "service_unavailable", service: "missing_service", unknown: true });
    expect(out[6]?.response).toEqual({ status: "error", reason: "forbidden", denied: true });
    // Each refusal moved the client's sequence: the last deposit ran (seq 8), and a re-push is answered the same.
    expect(await push(worker, clientId, [broken, forged])).toEqual([out[2], out[3]]);
    const reply = await changes(worker, clientId, [{ aggregate: "account", id, after: -1 }]);
    expect(reply.changes[0]).toMatchObject({ seq: 8 });
    expect(reply.changes[0]?.events.map((e) => e.type)).toEqual(["AccountOpened", "WithdrawalRejected", "Deposited"]);
  });

  it("a gap in the client's sequence is refused and nothing runs out of order", async () => {
    const worker = edge({ allowPull: true });
    const { clientId, pushed } = client();
    const id = `acc-${crypto.randomUUID()}`;
    await push(worker, clientId, [pushed("open", { id, owner: "ada" })]);
    const [gap] = await push(worker, clientId, [pushed("deposit", { id, amount: 5 }, 3)]);
    expect(gap).toMatchObject({
      status: "rejected",
      response: { status: "error", reason: { code: "sequence_gap", expected: 2, received: 3 } },
    });
    const state = await stateOf(id);
    expect(state?.version).toBe(0);
  });

  it("commands of different aggregates in one push each keep their own order", async () => {
    const worker = edge({ allowPull: true });
    const { clientId, pushed } = client();
    const ids = Array.from({ length: 8 }, () => `acc-${crypto.randomUUID()}`);
    const commands = [
      ...ids.map((id) => pushed("open", { id, owner: "ada" })),
      ...ids.flatMap((id) => [pushed("deposit", { id, amount: 1 }), pushed("deposit", { id, amount: 2 })]),
    ];
    const out = await push(worker, clientId, commands);
    expect(out.every((r) => r.status === "applied")).toBe(true);
    expect(out.slice(ids.length).map((r) => (r.response as { version: number }).version)).toEqual(
      ids.flatMap(() => [1, 2]),
    );
  });

  it("an aggregate that cannot be reached answers retry there, the rest of the push goes on, and a re-push applies once", async () => {
    let failing = true;
    const flaky: AggregateNamespace = {
      idFromName: (name) => env.ACCOUNTS.idFromName(name),
      get: (id) => {
        const stub = env.ACCOUNTS.get(id as never);
        return new Proxy(stub, {
          get(target, key) {
            if (key === "runClientCommands" && failing) {
              return () => Promise.reject(new Error("Durable Object is overloaded"));
            }
            return Reflect.get(target, key);
          },
        });
      },
    };
    const worker = edge({ allowPull: true, accounts: flaky });
    const { clientId, pushed } = client();
    const id = `acc-${crypto.randomUUID()}`;
    const batch = [pushed("open", { id, owner: "ada" }), pushed("deposit", { id, amount: 1 })];
    expect((await push(worker, clientId, batch)).map((r) => r.status)).toEqual(["retry", "not_processed"]);
    failing = false;
    expect((await push(worker, clientId, batch)).map((r) => r.status)).toEqual(["applied", "applied"]);
    expect((await push(worker, clientId, batch)).map((r) => r.response)).toEqual([
      { status: "created", id, version: 0 },
      { status: "ok", version: 1 },
    ]);
  });
});

describe("the edge's other doors: re-delivered commands are never re-run", () => {
  const dispatch = (worker: Worker, message: Message) => post(worker, "/x3m/dispatch", message.toJSON());

  it("a refused command re-sent over HTTP after the state changed gets its first answer", async () => {
    const worker = edge();
    const id = `acc-${crypto.randomUUID()}`;
    await dispatch(worker, Message.new("open", { rawRequest: { id, owner: "ada" } }));
    const closeIt = Message.new("close", { rawRequest: { id } });
    await dispatch(worker, closeIt);
    const deposit = Message.new("deposit", { rawRequest: { id, amount: 5 } });
    const refused = await dispatch(worker, deposit);
    expect(refused.status).toBe(422); // a closed account takes no deposits: refused without events
    const again = await dispatch(worker, deposit);
    expect(again.status).toBe(422);
    const state = await stateOf(id);
    expect(state?.version).toBe(2);
  });

  it("a deposit re-sent over HTTP after 1,001 newer ones is applied once", async () => {
    const worker = edge();
    const id = `acc-${crypto.randomUUID()}`;
    await dispatch(worker, Message.new("open", { rawRequest: { id, owner: "ada" } }));
    const deposit = Message.new("deposit", { rawRequest: { id, amount: 100 } });
    expect(await (await dispatch(worker, deposit)).json()).toMatchObject({ response: { status: "ok", version: 1 } });
    const other = client();
    for (let batch = 0; batch < 3; batch++) {
      await push(
        worker,
        other.clientId,
        Array.from({ length: 334 }, () => other.pushed("deposit", { id, amount: 1 })),
      );
    }
    expect(await (await dispatch(worker, deposit)).json()).toMatchObject({ response: { status: "ok", version: 1 } });
    const state = await stateOf(id);
    expect(state).toMatchObject({ version: 1_003, state: { balance: 1_102 } });
  });
});

describe("sync changes", () => {
  it("answers every tracked aggregate in one request, leaves out the unchanged ones, and continues with `more`", async () => {
    const worker = edge({ allowPull: true });
    const { clientId, pushed } = client();
    const ids = Array.from({ length: 5 }, () => `acc-${crypto.randomUUID()}`);
    await push(
      worker,
      clientId,
      ids.flatMap((id) => [pushed("open", { id, owner: "ada" }), pushed("deposit", { id, amount: 1 })]),
    );
    const cursors = ids.map((id) => ({ aggregate: "account", id, after: -1 }));
    const all = await changes(worker, clientId, cursors);
    expect(all.more).toBe(false);
    expect(all.changes.map((c) => [c.events.length, c.version, c.seq])).toEqual(ids.map(() => [2, 1, 2]));
    const known = ids.map((id) => ({ aggregate: "account", id, after: 1, seq: 2 }));
    expect((await changes(worker, clientId, known)).changes).toEqual([]);
    // A limit of 3 events: the answer is cut after whole pages, and `more` asks for another round.
    const partial = await changes(worker, clientId, cursors, 3);
    expect(partial.more).toBe(true);
    expect(partial.changes.reduce((sum, c) => sum + c.events.length, 0)).toBeLessThanOrEqual(4);
  });

  it("pull authorization stays per aggregate: denied and unknown aggregates are errors of their own", async () => {
    const { clientId } = client();
    const id = `acc-${crypto.randomUUID()}`;
    const denied = await changes(edge(), clientId, [{ aggregate: "account", id, after: -1 }]);
    expect(denied.errors).toEqual([expect.objectContaining({ id, code: "FORBIDDEN" })]);
    const unknown = await changes(edge({ allowPull: true }), clientId, [
      { aggregate: "nope", id, after: -1 },
      { aggregate: "toString", id, after: -1 },
    ]);
    expect(unknown.errors.map((e) => e.code)).toEqual(["UNKNOWN_AGGREGATE", "UNKNOWN_AGGREGATE"]);
  });
});

describe("sync requests at the door", () => {
  it("refuses another protocol version, a wrong body, a text/plain post and unauthenticated requests", async () => {
    const worker = edge();
    const { clientId } = client();
    const v1 = await post(worker, "/x3m/sync/push", { protocol: 1, commands: [] });
    expect(v1.status).toBe(400);
    expect(await v1.json()).toMatchObject({ error: { code: "UNSUPPORTED_PROTOCOL", details: { supported: [2] } } });
    const shapeless = await post(worker, "/x3m/sync/push", { protocol: 2, clientId, commands: "all of them" });
    expect(await shapeless.json()).toMatchObject({ error: { code: "INVALID_REQUEST" } });
    const plain = await post(worker, "/x3m/sync/push", { protocol: 2, clientId, commands: [] }, { type: "text/plain" });
    expect(plain.status).toBe(415);
    expect(
      (await post(worker, "/x3m/sync/push", { protocol: 2, clientId, commands: [] }, { token: "bad" })).status,
    ).toBe(401);
    const get = await worker.fetch(
      new Request("https://edge.test/x3m/sync/push", { headers: { authorization: "Bearer good" } }),
      env,
    );
    expect(get.status).toBe(405);
    expect(await get.json()).toMatchObject({ error: { code: "METHOD_NOT_ALLOWED" } });
  });

  it("refuses a chunked body over the limit while reading it (no content-length to trust)", async () => {
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const request = new Request("https://edge.test/x3m/sync/push", {
      method: "POST",
      headers: { authorization: "Bearer good", "content-type": "application/json" },
      body,
    });
    const response = await edge().fetch(request, env);
    expect(response.status).toBe(413);
    expect(sent).toBeLessThan(20); // stopped reading at the limit instead of buffering it all
  });
});
