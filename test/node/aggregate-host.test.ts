import { describe, expect, it } from "vitest";
import {
  type AggregateHostOptions,
  createAggregateHost,
  createMemoryEventStore,
  createNode,
  defineRouter,
  type EventStore,
  Message,
  type Response,
} from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";
import { type Account, account } from "../fixtures/account.ts";

type SetupOptions = Partial<Omit<AggregateHostOptions<Account>, "clock">> & { clock?: VirtualClock };

function setup(options: SetupOptions = {}) {
  const store = options.store ?? createMemoryEventStore();
  const clock = options.clock ?? new VirtualClock();
  const host = createAggregateHost(account, { store, clock, ...options });
  const node = createNode({ clock, announceIntervalMs: 0 });
  node.register(
    defineRouter({
      name: "accounts",
      services: {
        open: host.onNew("open"),
        deposit: host.on("deposit"),
        withdraw: host.on("withdraw"),
        withdraw_all_and_close: host.on("withdraw_all_and_close"),
        open_or_change_owner: host.onMaybeNew("open_or_change_owner", { generateIdIfMissing: true }),
        explode: host.on("explode"),
        deposit_new: host.onNew("deposit"),
      },
      authorize: () => true,
    }),
  );
  const send = async (
    service: string,
    rawRequest: Record<string, unknown> = {},
    extra: Partial<{ id: string; dryRun: boolean | "verbose" }> = {},
  ) => node.dispatch(Message.new(service, { rawRequest, ...extra }));
  return { store, clock, host, node, send };
}

const streamOf = async (store: EventStore, id: string) =>
  (await store.read(`account-${id}`)).map((e) => [e.data, e.version]);

describe("aggregate host: command flows (the original's)", () => {
  it("onNew answers created with id and version 0; the store holds the event with its message id", async () => {
    const { send, store } = setup();
    const reply = await send("open", { id: "a1", owner: "ada" }, { id: "m-open" });
    expect(reply.response).toEqual({ status: "created", id: "a1", version: 0 });
    const [event] = await store.read("account-a1");
    expect(event).toMatchObject({
      version: 0,
      type: "AccountOpened",
      metadata: { messageId: "m-open", causationId: "m-open" },
    });
  });

  it("onNew generates the id when it is missing", async () => {
    const { send } = setup();
    const reply = await send("open_or_change_owner", { owner: "ada" });
    expect(reply.response).toMatchObject({ status: "created", version: 0 });
  });

  it("on with a cold id rehydrates and appends (ok, version 1)", async () => {
    const { send, host, store } = setup();
    await send("open", { id: "a1", owner: "ada" });
    host.unload("a1");
    expect(host.loadedIds()).toEqual([]);
    expect((await send("deposit", { id: "a1", amount: 10 })).response).toEqual({ status: "ok", version: 1 });
    expect((await streamOf(store, "a1")).map(([, v]) => v)).toEqual([0, 1]);
  });

  it("onNew on a hot id answers already_exists; on a cold persisted id wrong_expected_version(-1, 0), then holds the persisted aggregate", async () => {
    const { send, host } = setup();
    await send("open", { id: "a1", owner: "ada" });
    expect((await send("open", { id: "a1", owner: "bob" })).response).toEqual({ status: "already_exists" });
    host.unload("a1");
    expect((await send("open", { id: "a1", owner: "bob" })).response).toEqual({
      status: "wrong_expected_version",
      expected: -1,
      actual: 0,
    });
    // One instance, re-hydrated from the store (the original left a leaked, unregistered actor).
    expect(host.loadedIds()).toEqual(["a1"]);
    expect(await host.getState("a1")).toMatchObject({ version: 0, state: { owner: "ada" } });
  });

  it("on with an unknown id answers not_found and leaves nothing in memory", async () => {
    const { send, host } = setup();
    expect((await send("deposit", { id: "nope", amount: 1 })).response).toEqual({ status: "not_found" });
    expect(host.loadedIds()).toEqual([]);
  });

  it("a missing id field answers missing_id", async () => {
    const { send } = setup();
    expect((await send("deposit", { amount: 1 })).response).toEqual({ status: "missing_id", field: "id" });
  });

  it("onMaybeNew: absent → created(id, 0); same owner → ok(0), no event; other owner → ok(1) and OwnerChanged", async () => {
    const { send, store } = setup();
    expect((await send("open_or_change_owner", { id: "a1", owner: "ada" })).response).toEqual({
      status: "created",
      id: "a1",
      version: 0,
    });
    expect((await send("open_or_change_owner", { id: "a1", owner: "ada" })).response).toEqual({
      status: "ok",
      version: 0,
    });
    expect((await send("open_or_change_owner", { id: "a1", owner: "bob" })).response).toEqual({
      status: "ok",
      version: 1,
    });
    expect((await streamOf(store, "a1")).map(([e]) => (e as { type: string }).type)).toEqual([
      "AccountOpened",
      "OwnerChanged",
    ]);
  });

  it("events with an error: the rejection is persisted and the error answered", async () => {
    const { send, store, host } = setup();
    await send("open", { id: "a1", owner: "ada" });
    expect((await send("withdraw", { id: "a1", amount: 5 })).response).toEqual({
      status: "error",
      reason: "insufficient_funds",
    });
    expect((await streamOf(store, "a1")).length).toBe(2);
    expect((await host.getState("a1"))?.state.rejections).toBe(1);
  });

  it("a throwing command answers an error, persists nothing, and the aggregate keeps working", async () => {
    const { send, store } = setup();
    await send("open", { id: "a1", owner: "ada" });
    expect((await send("explode", { id: "a1" })).response).toEqual({
      status: "error",
      reason: { exception: { name: "Error", message: "kaboom" } },
    });
    expect((await send("deposit", { id: "a1", amount: 1 })).response).toEqual({ status: "ok", version: 1 });
    expect((await streamOf(store, "a1")).length).toBe(2);
  });

  it("a failed creation (validation error) leaves nothing in memory", async () => {
    const { send, host } = setup();
    expect((await send("open", { id: "a1", owner: "" })).response?.status).toBe("validation_error");
    expect(host.loadedIds()).toEqual([]);
  });
});

describe("aggregate host: idempotency", () => {
  it("the same message twice: both answered with the original response, one event", async () => {
    const { node, store } = setup();
    await node.dispatch(Message.new("open", { rawRequest: { id: "a1", owner: "ada" } }));
    const deposit = Message.new("deposit", { rawRequest: { id: "a1", amount: 10 } });
    const first = await node.dispatch(deposit);
    const second = await node.dispatch(deposit);
    expect(first.response).toEqual({ status: "ok", version: 1 });
    expect(second.response).toEqual(first.response);
    expect((await store.read("account-a1")).length).toBe(2);
  });

  it("survives unload and replay: the message id and its response come back from event metadata", async () => {
    const { node, host } = setup();
    const open = Message.new("open", { rawRequest: { id: "a1", owner: "ada" } });
    const created = await node.dispatch(open);
    host.unload("a1");
    const again = await node.dispatch(open);
    expect(again.response).toEqual(created.response);
    expect(again.response).toEqual({ status: "created", id: "a1", version: 0 });
  });

  it("concurrent re-deliveries of one command run it once", async () => {
    const { node, store } = setup();
    await node.dispatch(Message.new("open", { rawRequest: { id: "a1", owner: "ada" } }));
    const deposit = Message.new("deposit", { rawRequest: { id: "a1", amount: 10 } });
    const replies = await Promise.all(Array.from({ length: 5 }, () => node.dispatch(deposit)));
    expect(new Set(replies.map((r) => JSON.stringify(r.response)))).toEqual(
      new Set([JSON.stringify({ status: "ok", version: 1 })]),
    );
    expect((await store.read("account-a1")).length).toBe(2);
  });
});

describe("aggregate host: the idempotency window is only a cache", () => {
  it("a command re-delivered after its id left the in-memory window gets its first answer from the store, not a second run", async () => {
    const store = createMemoryEventStore();
    const { node, host } = setup({ store, idempotencyWindow: 2, snapshots: { every: 3, schemaVersion: 1 } });
    const deposits = [1, 2, 3].map((amount) => Message.new("deposit", { rawRequest: { id: "a1", amount } }));
    await node.dispatch(Message.new("open", { rawRequest: { id: "a1", owner: "ada" } }));
    for (const deposit of deposits) await node.dispatch(deposit);
    const snapshot = await store.loadSnapshot("account-a1", { schemaVersion: 1 });
    expect((snapshot?.state as { processed: unknown[] } | undefined)?.processed).toHaveLength(2);
    host.unload("a1");
    expect((await node.dispatch(deposits[2] as Message)).response).toEqual({ status: "ok", version: 3 }); // cached
    expect((await node.dispatch(deposits[0] as Message)).response).toEqual({ status: "ok", version: 1 }); // from the store
    expect((await host.getState("a1"))?.state.balance).toBe(6);
    expect((await store.read("account-a1")).length).toBe(4);
  });
});

describe("aggregate host: dry run (the original's, without masking failures)", () => {
  it("dry run true answers ok with the current version and persists nothing; verbose returns the would-be events", async () => {
    const { node, send, store } = setup();
    await send("open", { id: "a1", owner: "ada" });
    const dry = await node.validate(Message.new("deposit", { rawRequest: { id: "a1", amount: 5 } }));
    expect(dry.response).toEqual({ status: "ok", version: 0 });
    const verbose = await node.validate(
      Message.new("deposit", { rawRequest: { id: "a1", amount: 5 }, dryRun: "verbose" }),
    );
    expect(verbose.response).toEqual({ status: "ok", payload: [{ type: "Deposited", amount: 5 }], version: 0 });
    expect(verbose.events).toEqual([{ type: "Deposited", amount: 5 }]);
    expect((await store.read("account-a1")).length).toBe(1);
  });

  it("a dry run of a new aggregate answers version -1 and leaves nothing behind", async () => {
    const { node, host, store } = setup();
    const dry = await node.validate(Message.new("open", { rawRequest: { id: "a9", owner: "ada" } }));
    expect(dry.response).toEqual({ status: "ok", version: -1 });
    expect(host.loadedIds()).toEqual([]);
    expect(await store.has("account-a9")).toBe(false);
  });

  it("a dry run does not mask a failure (the original answered ok for events with an error)", async () => {
    const { node, send } = setup();
    await send("open", { id: "a1", owner: "ada" });
    const dry = await node.validate(Message.new("withdraw", { rawRequest: { id: "a1", amount: 50 } }));
    expect(dry.response).toEqual({ status: "error", reason: "insufficient_funds" });
  });

  it("rollback runs for a dry run and commit for a real one", async () => {
    const calls: string[] = [];
    const hooked = { ...account, commit: () => void calls.push("commit"), rollback: () => void calls.push("rollback") };
    const store = createMemoryEventStore();
    const host = createAggregateHost(hooked, { store });
    const open = host.onNew("open");
    await open(Message.new("open", { rawRequest: { id: "a1", owner: "ada" }, dryRun: true }));
    await open(Message.new("open", { rawRequest: { id: "a1", owner: "ada" } }));
    expect(calls).toEqual(["rollback", "commit"]);
  });
});

describe("aggregate host: concurrency", () => {
  it("one command at a time per id: 100 concurrent deposits give contiguous versions and the right balance", async () => {
    const { send, store, host } = setup();
    await send("open", { id: "a1", owner: "ada" });
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => send("deposit", { id: "a1", amount: i + 1 })),
    );
    expect(replies.every((r) => r.response?.status === "ok")).toBe(true);
    expect(new Set(replies.map((r) => (r.response as { version: number }).version)).size).toBe(100);
    expect((await store.read("account-a1")).map((e) => e.version)).toEqual(Array.from({ length: 101 }, (_, i) => i));
    expect((await host.getState("a1"))?.state.balance).toBe(5050);
  });

  it("concurrent creations of one id: exactly one wins, the others see already_exists", async () => {
    const { send, host } = setup();
    const replies = await Promise.all(Array.from({ length: 5 }, () => send("open", { id: "a1", owner: "ada" })));
    expect(replies.filter((r) => r.response?.status === "created")).toHaveLength(1);
    expect(replies.filter((r) => r.response?.status === "already_exists")).toHaveLength(4);
    expect(host.loadedIds()).toEqual(["a1"]);
  });

  it("two hosts on one store (two processes): the stale one gets wrong_expected_version and re-hydrates", async () => {
    const store = createMemoryEventStore();
    const one = createAggregateHost(account, { store });
    const two = createAggregateHost(account, { store });
    await one.onNew("open")(Message.new("open", { rawRequest: { id: "a1", owner: "ada" } }));
    const deposit = (host: typeof one) =>
      host.on("deposit")(Message.new("deposit", { rawRequest: { id: "a1", amount: 1 } }));
    expect(((await deposit(two)) as Message).response).toEqual({ status: "ok", version: 1 });
    expect(((await deposit(one)) as Message).response).toEqual({
      status: "wrong_expected_version",
      expected: 0,
      actual: 1,
    });
    expect(((await deposit(one)) as Message).response).toEqual({ status: "ok", version: 2 });
  });
});

describe("aggregate host: a caller that gives up (the original's commit-timeout test)", () => {
  it("the caller times out, the events are persisted anyway, and the retry answers without a second deposit", async () => {
    const store = createMemoryEventStore();
    const clock = new VirtualClock();
    const slow: EventStore = {
      ...store,
      append: async (stream, events, options) => {
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 200));
        return store.append(stream, events, options);
      },
    };
    const { node, host } = setup({ store: slow, clock });
    const opening = node.dispatch(Message.new("open", { rawRequest: { id: "a1", owner: "ada" } }));
    await clock.advance(200);
    await opening;
    const deposit = Message.new("deposit", { rawRequest: { id: "a1", amount: 10 } });
    const first = node.dispatch(deposit, { timeoutMs: 50 });
    await clock.advance(50);
    expect((await first).response).toMatchObject({ status: "service_timeout", timeoutMs: 50 });
    await clock.advance(150);
    expect((await store.read("account-a1")).length).toBe(2);
    host.unload("a1");
    expect((await node.dispatch(deposit)).response).toEqual({ status: "ok", version: 1 });
    expect((await host.getState("a1"))?.state.balance).toBe(10);
  });
});

describe("aggregate host: extension points (the original's)", () => {
  it("an overridden saveEvents sees every event and may filter what is persisted", async () => {
    const seen: unknown[][] = [];
    const { send, store } = setup({
      saveEvents: async ({ events, defaultSave }) => {
        seen.push([...events]);
        return defaultSave(events.filter((e) => (e as { type: string }).type !== "WithdrawalRejected"));
      },
    });
    await send("open", { id: "a1", owner: "ada" });
    await send("withdraw", { id: "a1", amount: 5 });
    expect(seen[1]).toEqual([{ type: "WithdrawalRejected", amount: 5 }]);
    expect((await store.read("account-a1")).map((e) => e.type)).toEqual(["AccountOpened"]);
  });

  it("a failing save answers the error and drops the aggregate from memory", async () => {
    const { send, host } = setup({
      saveEvents: async () => {
        throw new Error("boom");
      },
    });
    expect((await send("open", { id: "a1", owner: "ada" })).response).toEqual({
      status: "error",
      reason: { code: "save_failed", message: "boom" },
    });
    expect(host.loadedIds()).toEqual([]);
  });

  it("a state-based (not event-sourced) aggregate: saveEvents persists nothing, saveState keeps a row, whenNotLoaded reads it", async () => {
    const rows = new Map<string, { state: Account; version: number }>();
    const options: SetupOptions = {
      saveEvents: async ({ events, expectedVersion }) => ({ ok: true, version: expectedVersion + events.length }),
      saveState: (id, loaded) => void rows.set(id, { state: loaded.state, version: loaded.version }),
      whenNotLoaded: async ({ aggregateId }) => {
        const row = rows.get(aggregateId);
        return row && { ...row, processed: new Map<string, Response>() };
      },
    };
    const { send, host, store, node } = setup(options);
    await send("open", { id: "a1", owner: "ada" });
    await send("deposit", { id: "a1", amount: 250 });
    expect(rows.get("a1")).toMatchObject({ version: 1, state: { balance: 250 } });
    host.unload("a1");
    expect((await send("deposit", { id: "a1", amount: 100 })).response).toEqual({ status: "ok", version: 2 });
    expect(rows.get("a1")?.state.balance).toBe(350);
    await node.validate(Message.new("deposit", { rawRequest: { id: "a1", amount: 1 } }));
    expect(rows.get("a1")?.state.balance).toBe(350);
    expect(await store.lastPosition()).toBe(0);
  });
});

describe("aggregate host: snapshots", () => {
  it("saves one every N events and loads from the latest valid one plus the events after it", async () => {
    const store = createMemoryEventStore();
    const reads: number[] = [];
    const counting: EventStore = {
      ...store,
      read: async (stream, options) => {
        const page = await store.read(stream, options);
        reads.push(page.length);
        return page;
      },
    };
    const { send, host } = setup({ store: counting, snapshots: { every: 10, schemaVersion: 1 } });
    await send("open", { id: "a1", owner: "ada" });
    for (let i = 0; i < 24; i++) await send("deposit", { id: "a1", amount: 1 });
    expect((await store.loadSnapshot("account-a1", { schemaVersion: 1 }))?.version).toBe(19);
    host.unload("a1");
    reads.length = 0;
    expect((await host.getState("a1"))?.state.balance).toBe(24);
    expect(reads).toEqual([5]); // only the events after the snapshot were read
  });

  it("a new snapshot schema version ignores old snapshots and replays from the start", async () => {
    const store = createMemoryEventStore();
    const first = setup({ store, snapshots: { every: 5, schemaVersion: 1 } });
    await first.send("open", { id: "a1", owner: "ada" });
    for (let i = 0; i < 9; i++) await first.send("deposit", { id: "a1", amount: 2 });
    const second = setup({ store, snapshots: { every: 5, schemaVersion: 2 } });
    expect(await second.host.getState("a1")).toMatchObject({ version: 9, state: { balance: 18 } });
  });

  it("idempotency survives a snapshot: a re-delivered command from before it is not re-run", async () => {
    const store = createMemoryEventStore();
    const { node, host } = setup({ store, snapshots: { every: 2, schemaVersion: 1 } });
    await node.dispatch(Message.new("open", { rawRequest: { id: "a1", owner: "ada" } }));
    const deposit = Message.new("deposit", { rawRequest: { id: "a1", amount: 10 } });
    await node.dispatch(deposit);
    await node.dispatch(Message.new("deposit", { rawRequest: { id: "a1", amount: 1 } }));
    host.unload("a1");
    expect((await node.dispatch(deposit)).response).toEqual({ status: "ok", version: 1 });
    expect((await host.getState("a1"))?.state.balance).toBe(11);
  });
});

describe("aggregate host: unloading (the original's rules) and passivation", () => {
  it("an events rule unloads after its delay", async () => {
    const { send, host, clock } = setup({ unloadOn: { events: { Deposited: { inMs: 30 } } } });
    await send("open", { id: "a1", owner: "ada" });
    await send("deposit", { id: "a1", amount: 1 });
    expect(host.loadedIds()).toEqual(["a1"]);
    await clock.advance(29);
    expect(host.loadedIds()).toEqual(["a1"]);
    await clock.advance(1);
    expect(host.loadedIds()).toEqual([]);
  });

  it("a later command does not cancel a pending unload rule", async () => {
    const { send, host, clock } = setup({ unloadOn: { events: { Deposited: { inMs: 30 } } } });
    await send("open", { id: "a1", owner: "ada" });
    await send("deposit", { id: "a1", amount: 5 });
    await clock.advance(10);
    await send("withdraw", { id: "a1", amount: 1 });
    await clock.advance(20);
    expect(host.loadedIds()).toEqual([]);
  });

  it("a state rule: unload now, in N ms, or skip; a throwing rule skips", async () => {
    const { send, host, clock } = setup({
      unloadOn: {
        state: (state) => {
          if (state.closed) return "unload";
          if (state.balance > 1000) return { inMs: 30 };
          if (state.balance === 13) throw new Error("no clause");
          return "skip";
        },
      },
    });
    await send("open", { id: "a1", owner: "ada" });
    await send("deposit", { id: "a1", amount: 13 });
    expect(host.loadedIds()).toEqual(["a1"]);
    await send("deposit", { id: "a1", amount: 2000 });
    await clock.advance(30);
    expect(host.loadedIds()).toEqual([]);
    await send("withdraw_all_and_close", { id: "a1" });
    expect(host.loadedIds()).toEqual([]);
  });

  it("idle passivation unloads after N ms without commands; a command in between resets the timer", async () => {
    const { send, host, clock } = setup({ idleTimeoutMs: 1_000 });
    await send("open", { id: "a1", owner: "ada" });
    await clock.advance(900);
    await send("deposit", { id: "a1", amount: 1 });
    await clock.advance(900);
    expect(host.loadedIds()).toEqual(["a1"]);
    await clock.advance(100);
    expect(host.loadedIds()).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("close cancels every timer", async () => {
    const { send, host, clock } = setup({ idleTimeoutMs: 1_000, unloadOn: { events: { Deposited: { inMs: 5_000 } } } });
    await send("open", { id: "a1", owner: "ada" });
    await send("deposit", { id: "a1", amount: 1 });
    host.close();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("aggregate host: reading state", () => {
  it("getState returns the state and version, or undefined for an unknown id (without keeping anything)", async () => {
    const { send, host } = setup();
    await send("open", { id: "a1", owner: "ada" });
    await send("deposit", { id: "a1", amount: 7 });
    expect(await host.getState("a1")).toEqual({
      state: { id: "a1", owner: "ada", balance: 7, closed: false, rejections: 0 },
      version: 1,
    });
    expect(await host.getState("nope")).toBeUndefined();
    expect(host.loadedIds()).toEqual(["a1"]);
  });
});

describe("aggregate host: review regressions", () => {
  it("events that arrive with the message are never persisted", async () => {
    const { node, host, store } = setup();
    await node.dispatch(Message.new("open", { rawRequest: { id: "a1", owner: "ada" } }));
    const forged = Message.parse({
      serviceName: "deposit",
      id: "m-forged",
      rawRequest: { id: "a1", amount: 1 },
      events: [{ type: "Deposited", amount: 1_000_000 }],
    });
    expect((await node.dispatch(forged)).response).toEqual({ status: "ok", version: 1 });
    expect((await store.read("account-a1")).map((e) => e.data)).toEqual([
      { type: "AccountOpened", id: "a1", owner: "ada" },
      { type: "Deposited", amount: 1 },
    ]);
    expect((await host.getState("a1"))?.state.balance).toBe(1);
  });

  it("a re-delivered creation answers its first response while the aggregate is in memory", async () => {
    const { node } = setup();
    const open = Message.new("open", { rawRequest: { id: "a1", owner: "ada" } });
    const first = await node.dispatch(open);
    expect((await node.dispatch(open)).response).toEqual(first.response);
  });

  it("a creation without an id is idempotent too: the generated id comes from the message id", async () => {
    const { node, store } = setup();
    const create = Message.new("open_or_change_owner", { rawRequest: { owner: "ada" } });
    const first = await node.dispatch(create);
    const again = await node.dispatch(create);
    expect(first.response).toEqual({ status: "created", id: create.id, version: 0 });
    expect(again.response).toEqual(first.response);
    expect(await store.lastPosition()).toBe(1);
  });

  it("close() with a command in flight leaves no timer and nothing in memory", async () => {
    const { send, host, clock } = setup({ idleTimeoutMs: 1_000, unloadOn: { events: { Deposited: { inMs: 5_000 } } } });
    await send("open", { id: "a1", owner: "ada" });
    const inFlight = send("deposit", { id: "a1", amount: 1 });
    host.close();
    await inFlight;
    expect(clock.pendingTimers).toBe(0);
    expect(host.loadedIds()).toEqual([]);
  });
});
