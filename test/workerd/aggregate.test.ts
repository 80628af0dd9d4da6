// The event-sourcing core runs unchanged inside workerd: the memory event store passes its contract,
// and an aggregate host serves commands through a node.
import { describe, expect, it } from "vitest";
import { createAggregateHost, createMemoryEventStore, createNode, defineRouter, Message } from "../../src/index.ts";
import { eventStoreContract } from "../../src/testing/index.ts";
import { account } from "../fixtures/account.ts";

describe("event store contract in workerd: memory", () => {
  for (const contractCase of eventStoreContract(() => createMemoryEventStore())) {
    it(contractCase.name, () => contractCase.run());
  }
});

describe("aggregate host in workerd", () => {
  it("creates, deposits, is idempotent and reloads from a snapshot", async () => {
    const store = createMemoryEventStore();
    const host = createAggregateHost(account, { store, snapshots: { every: 2, schemaVersion: 1 } });
    const node = createNode({ announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: "accounts",
        services: { open: host.onNew("open"), deposit: host.on("deposit") },
        authorize: () => true,
      }),
    );
    expect((await node.dispatch(Message.new("open", { rawRequest: { id: "a1", owner: "ada" } }))).response).toEqual({
      status: "created",
      id: "a1",
      version: 0,
    });
    const deposit = Message.new("deposit", { rawRequest: { id: "a1", amount: 5 } });
    expect((await node.dispatch(deposit)).response).toEqual({ status: "ok", version: 1 });
    expect((await node.dispatch(deposit)).response).toEqual({ status: "ok", version: 1 });
    host.unload("a1");
    expect(await host.getState("a1")).toMatchObject({ version: 1, state: { balance: 5 } });
    expect((await store.loadSnapshot("account-a1", { schemaVersion: 1 }))?.version).toBe(1);
  });
});
