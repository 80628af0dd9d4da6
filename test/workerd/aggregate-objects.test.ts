// Aggregates hosted in real SQLite-backed Durable Objects, reached through a node whose router forwards
// each command to the object named by the aggregate id.
import { abortAllDurableObjects, evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { aggregateServices } from "../../adapters/durable-objects/index.ts";
import { createNode, defineRouter, Message } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";

function setup() {
  const accounts = aggregateServices(env.ACCOUNTS, account);
  const node = createNode({ announceIntervalMs: 0 });
  node.register(
    defineRouter({
      name: "accounts",
      services: {
        open: accounts.onNew("open"),
        deposit: accounts.on("deposit"),
        withdraw: accounts.on("withdraw"),
        open_or_change_owner: accounts.onMaybeNew("open_or_change_owner"),
        get_account: accounts.stateService(),
      },
      authorize: () => true,
    }),
  );
  const send = (service: string, rawRequest: Record<string, unknown>) =>
    node.dispatch(Message.new(service, { rawRequest }));
  return { node, accounts, send };
}

const unique = (name: string) => `${name}-${crypto.randomUUID()}`;

describe("aggregates in Durable Objects: the original's flows", () => {
  it("creates, appends, answers not_found and already_exists, and reads state", async () => {
    const { send, accounts } = setup();
    const id = unique("acc");
    expect((await send("open", { id, owner: "ada" })).response).toEqual({ status: "created", id, version: 0 });
    expect((await send("open", { id, owner: "bob" })).response).toEqual({ status: "already_exists" });
    expect((await send("deposit", { id, amount: 10 })).response).toEqual({ status: "ok", version: 1 });
    expect((await send("withdraw", { id, amount: 50 })).response).toEqual({
      status: "error",
      reason: "insufficient_funds",
    });
    expect((await send("deposit", { id: unique("nope"), amount: 1 })).response).toEqual({ status: "not_found" });
    expect(await accounts.state(id)).toMatchObject({ version: 2, state: { owner: "ada", balance: 10, rejections: 1 } });
  });

  it("stateService reads the state from the aggregate's object, or answers not_found", async () => {
    const { send } = setup();
    const id = unique("acc");
    await send("open", { id, owner: "ada" });
    expect((await send("get_account", { id })).response).toMatchObject({
      status: "ok",
      payload: { version: 0, state: { owner: "ada" } },
    });
    expect((await send("get_account", { id: unique("nope") })).response).toEqual({ status: "not_found" });
  });

  it("onMaybeNew creates, then changes the owner", async () => {
    const { send } = setup();
    const id = unique("acc");
    expect((await send("open_or_change_owner", { id, owner: "ada" })).response).toEqual({
      status: "created",
      id,
      version: 0,
    });
    expect((await send("open_or_change_owner", { id, owner: "ada" })).response).toEqual({ status: "ok", version: 0 });
    expect((await send("open_or_change_owner", { id, owner: "bob" })).response).toEqual({ status: "ok", version: 1 });
  });

  it("a re-delivered message is answered once, with its original response, also after the object was evicted", async () => {
    const { node, accounts } = setup();
    const id = unique("acc");
    await node.dispatch(Message.new("open", { rawRequest: { id, owner: "ada" } }));
    const deposit = Message.new("deposit", { rawRequest: { id, amount: 10 } });
    const first = await node.dispatch(deposit);
    await evictDurableObject(env.ACCOUNTS.get(env.ACCOUNTS.idFromName(id)));
    const again = await node.dispatch(deposit);
    expect(again.response).toEqual(first.response);
    expect(await accounts.state(id)).toMatchObject({ version: 1, state: { balance: 10 } });
  });

  it("a dry run persists nothing", async () => {
    const { node, send, accounts } = setup();
    const id = unique("acc");
    await send("open", { id, owner: "ada" });
    const dry = await node.validate(Message.new("deposit", { rawRequest: { id, amount: 5 }, dryRun: "verbose" }));
    expect(dry.response).toEqual({ status: "ok", payload: [{ type: "Deposited", amount: 5 }], version: 0 });
    expect(await accounts.state(id)).toMatchObject({ version: 0, state: { balance: 0 } });
  });
});

describe("aggregates in Durable Objects: concurrency and eviction", () => {
  it("1,000 concurrent commands to one aggregate are serialized with contiguous versions", async () => {
    const { send, accounts } = setup();
    const id = unique("acc");
    await send("open", { id, owner: "ada" });
    const replies = await Promise.all(Array.from({ length: 1_000 }, () => send("deposit", { id, amount: 1 })));
    const versions = replies.map((reply) => (reply.response as { version: number }).version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 1));
    expect(await accounts.state(id)).toMatchObject({ version: 1_000, state: { balance: 1_000 } });
  });

  it("evicting the object in the middle of a run of commands loses and duplicates nothing", async () => {
    const { node, accounts } = setup();
    const id = unique("acc");
    const stub = env.ACCOUNTS.get(env.ACCOUNTS.idFromName(id));
    await node.dispatch(Message.new("open", { rawRequest: { id, owner: "ada" } }));
    const deposits = Array.from({ length: 200 }, (_, i) =>
      Message.new("deposit", { rawRequest: { id, amount: i + 1 } }),
    );
    const first = deposits.map((deposit) => node.dispatch(deposit).catch((error: unknown) => error));
    await evictDurableObject(stub);
    const settled = await Promise.all(first);
    // Whatever failed or timed out during the eviction is sent again, with the same message id.
    const retried = await Promise.all(
      deposits.map((deposit, i) => {
        const outcome = settled[i];
        return outcome instanceof Message && outcome.response?.status === "ok" ? outcome : node.dispatch(deposit);
      }),
    );
    expect(retried.every((reply) => reply.response?.status === "ok")).toBe(true);
    expect(await accounts.state(id)).toMatchObject({ version: 200, state: { balance: (200 * 201) / 2 } });
  });

  it("aborting the object mid-command (a crash) loses and duplicates nothing once callers retry", async () => {
    const { node, accounts } = setup();
    const id = unique("acc");
    await node.dispatch(Message.new("open", { rawRequest: { id, owner: "ada" } }));
    const deposits = Array.from({ length: 200 }, (_, i) =>
      Message.new("deposit", { rawRequest: { id, amount: i + 1 } }),
    );
    const first = deposits.map((deposit) => node.dispatch(deposit).catch((error: unknown) => error));
    await first[20]; // commands run one at a time: about 20 are done, the rest are queued or running
    await abortAllDurableObjects();
    const settled = await Promise.all(first);
    const failed = settled.filter(
      (outcome) => !(outcome instanceof Message) || outcome.response?.status !== "ok",
    ).length;
    const retried = await Promise.all(
      deposits.map((deposit, i) => {
        const outcome = settled[i];
        return outcome instanceof Message && outcome.response?.status === "ok" ? outcome : node.dispatch(deposit);
      }),
    );
    expect(failed).toBeGreaterThan(0); // the abort really interrupted commands
    expect(retried.every((reply) => reply.response?.status === "ok")).toBe(true);
    expect(await accounts.state(id)).toMatchObject({ version: 200, state: { balance: (200 * 201) / 2 } });
  });
});
