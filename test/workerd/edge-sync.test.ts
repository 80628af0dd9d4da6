// The server side of offline sync, inside workerd: pushes run in the client's order, are answered once
// per message id, rejections never block, and pulls are versioned and denied by default.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  aggregateServices,
  createEdgeWorker,
  type PushResult,
  SYNC_PROTOCOL_VERSION,
} from "../../adapters/durable-objects/index.ts";
import { defineRouter, Message, type RecordedEvent, Response as X3mResponse } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";

function edge(options: { allowPull?: boolean } = {}) {
  return createEdgeWorker({
    routers: (e) => {
      const accounts = aggregateServices(e.ACCOUNTS, account);
      return [
        defineRouter({
          name: "accounts",
          services: {
            open: accounts.onNew("open"),
            deposit: accounts.on("deposit"),
            withdraw: accounts.on("withdraw"),
            busy: (msg) => msg.return(X3mResponse.tryAnotherNode("overloaded")),
          },
          authorize: (msg) => msg.assigns.principal !== undefined,
        }),
      ];
    },
    authenticate: (request) => (request.headers.get("authorization") === "Bearer good" ? { user: "ada" } : null),
    sync: {
      aggregates: (e) => ({ account: e.ACCOUNTS }),
      ...(options.allowPull ? { authorizePull: ({ principal }) => principal.user === "ada" } : {}),
    },
  });
}

const post = (worker: ReturnType<typeof edge>, action: string, body: unknown, token = "good") =>
  worker.fetch(
    new Request(`https://edge.test/x3m/sync/${action}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    env,
  );

const pushBody = (commands: unknown[]) => ({ protocol: SYNC_PROTOCOL_VERSION, commands });
const results = async (response: Response) => ((await response.json()) as { results: PushResult[] }).results;
const command = (service: string, rawRequest: Record<string, unknown>) => Message.new(service, { rawRequest }).toJSON();

describe("sync push", () => {
  it("applies a batch in order and answers a re-pushed batch with the original responses, once", async () => {
    const worker = edge({ allowPull: true });
    const id = `acc-${crypto.randomUUID()}`;
    const batch = [
      command("open", { id, owner: "ada" }),
      command("deposit", { id, amount: 5 }),
      command("deposit", { id, amount: 7 }),
    ];
    const first = await results(await post(worker, "push", pushBody(batch)));
    expect(first.map((r) => [r.status, r.response])).toEqual([
      ["applied", { status: "created", id, version: 0 }],
      ["applied", { status: "ok", version: 1 }],
      ["applied", { status: "ok", version: 2 }],
    ]);
    const again = await results(await post(worker, "push", pushBody(batch)));
    expect(again).toEqual(first);
    const pulled = (await (await post(worker, "pull", { protocol: 1, aggregate: "account", id })).json()) as {
      events: RecordedEvent[];
      version: number;
    };
    expect(pulled.version).toBe(2);
    expect(pulled.events.map((e) => e.type)).toEqual(["AccountOpened", "Deposited", "Deposited"]);
  });

  it("a rejected or invalid command is answered and does not block the commands behind it", async () => {
    const worker = edge();
    const id = `acc-${crypto.randomUUID()}`;
    const out = await results(
      await post(
        worker,
        "push",
        pushBody([
          command("open", { id, owner: "ada" }),
          command("withdraw", { id, amount: 99 }),
          { nonsense: true },
          command("deposit", { id, amount: 1 }),
        ]),
      ),
    );
    expect(out.map((r) => r.status)).toEqual(["applied", "rejected", "rejected", "applied"]);
    expect(out[1]?.response).toEqual({ status: "error", reason: "insufficient_funds" });
    expect(out[2]?.response?.status).toBe("validation_error");
  });

  it("a transient failure stops the batch there, so the client's order is kept when it pushes again", async () => {
    const worker = edge();
    const id = `acc-${crypto.randomUUID()}`;
    const out = await results(
      await post(
        worker,
        "push",
        pushBody([command("open", { id, owner: "ada" }), command("busy", {}), command("deposit", { id, amount: 1 })]),
      ),
    );
    expect(out.map((r) => r.status)).toEqual(["applied", "retry", "not_processed"]);
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

  it("refuses another protocol version, a missing one, and unauthenticated requests", async () => {
    const worker = edge();
    const wrong = await post(worker, "push", { protocol: 2, commands: [] });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: { code: "UNSUPPORTED_PROTOCOL", supported: [1] } });
    expect((await post(worker, "push", { commands: [] })).status).toBe(400);
    expect((await post(worker, "push", pushBody([]), "bad")).status).toBe(401);
  });
});

describe("sync pull", () => {
  it("is denied unless the app allows it, and refuses unknown aggregate types", async () => {
    const id = `acc-${crypto.randomUUID()}`;
    expect((await post(edge(), "pull", { protocol: 1, aggregate: "account", id })).status).toBe(403);
    expect((await post(edge({ allowPull: true }), "pull", { protocol: 1, aggregate: "nope", id })).status).toBe(404);
    expect((await post(edge({ allowPull: true }), "pull", { protocol: 1, aggregate: "__proto__", id })).status).toBe(
      404,
    );
  });

  it("returns the events after a version", async () => {
    const worker = edge({ allowPull: true });
    const id = `acc-${crypto.randomUUID()}`;
    await post(
      worker,
      "push",
      pushBody([
        command("open", { id, owner: "ada" }),
        command("deposit", { id, amount: 2 }),
        command("deposit", { id, amount: 3 }),
      ]),
    );
    const pulled = (await (await post(worker, "pull", { protocol: 1, aggregate: "account", id, after: 0 })).json()) as {
      events: RecordedEvent[];
    };
    expect(pulled.events.map((e) => e.version)).toEqual([1, 2]);
  });
});
