// Exactly once with no window, on the memory substrate (the Durable Object and IndexedDB substrates run the
// same host and pass the same store contract; the workerd and browser suites re-push past 10,000 there):
// every final answer is recorded with the command's effects, so a re-delivered command is answered, never
// re-run; offline clients' commands are ordered and de-duplicated by per-client sequence numbers.
import { describe, expect, it } from "vitest";
import {
  type ClientCommand,
  createAggregateHost,
  createMemoryEventStore,
  createNode,
  defineAggregate,
  defineRouter,
  type EventStore,
  Message,
  Response,
} from "../../src/index.ts";

type WalletEvent =
  | { type: "Opened"; owner: string }
  | { type: "Deposited"; amount: number }
  | { type: "Withdrawn"; amount: number }
  | { type: "OwnerChanged"; owner: string };
interface Wallet {
  owner?: string;
  balance: number;
}

const principalOf = (msg: { readonly assigns: Readonly<Record<string, unknown>> }) =>
  (msg.assigns.principal as { user?: string } | undefined)?.user;

/** A wallet whose withdraw is refused without an event when it is over the balance. */
const wallet = defineAggregate({
  name: "wallet",
  initialState: (): Wallet => ({ balance: 0 }),
  apply(state: Wallet, event: WalletEvent): Wallet {
    switch (event.type) {
      case "Opened":
        return { ...state, owner: event.owner };
      case "Deposited":
        return { ...state, balance: state.balance + event.amount };
      case "Withdrawn":
        return { ...state, balance: state.balance - event.amount };
      case "OwnerChanged":
        return { ...state, owner: event.owner };
    }
  },
  // Only the owner commands an existing wallet; anyone signed in may open one.
  authorize: (msg, state) =>
    state.owner === undefined ? principalOf(msg) !== undefined : principalOf(msg) === state.owner,
  commands: {
    open: (msg) => msg.addEvent({ type: "Opened", owner: principalOf(msg) ?? "" }).created(msg.aggregateMeta.id ?? ""),
    deposit: (msg) => msg.addEvent({ type: "Deposited", amount: Number(msg.rawRequest.amount) }).ok(),
    withdraw: (msg, state) => {
      const amount = Number(msg.rawRequest.amount);
      return amount > state.balance
        ? msg.return(Response.validationError([{ message: "over the balance", path: ["amount"] }]))
        : msg.addEvent({ type: "Withdrawn", amount }).ok();
    },
    give_to: (msg) => msg.addEvent({ type: "OwnerChanged", owner: String(msg.rawRequest.owner) }).ok(),
  },
});

function setup(store: EventStore = createMemoryEventStore()) {
  const host = createAggregateHost(wallet, { store });
  const node = createNode({ announceIntervalMs: 0 });
  node.register(
    defineRouter({
      name: "wallets",
      services: {
        open: host.onNew("open"),
        deposit: host.on("deposit"),
        withdraw: host.on("withdraw"),
        give_to: host.on("give_to"),
      },
      authorize: () => true,
    }),
  );
  const as = (user: string) => (service: string, rawRequest: Record<string, unknown>) =>
    Message.new(service, { rawRequest }).assign("principal", { user });
  return { store, host, node, ada: as("ada"), bob: as("bob") };
}

describe("re-delivered commands are answered, never re-run", () => {
  it("a refused command (no events) re-sent after the state changed gets its first answer and is not run again", async () => {
    const { node, host, ada } = setup();
    await node.dispatch(ada("open", { id: "w1" }));
    const withdraw = ada("withdraw", { id: "w1", amount: 50 });
    const first = await node.dispatch(withdraw);
    expect(first.response?.status).toBe("validation_error");
    await node.dispatch(ada("deposit", { id: "w1", amount: 100 }));
    const again = await node.dispatch(withdraw);
    expect(again.response).toEqual(first.response);
    expect((await host.getState("w1"))?.state.balance).toBe(100); // the withdraw never ran
  });

  it("also after the host forgot it (unloaded: a new process, an evicted object)", async () => {
    const store = createMemoryEventStore();
    const first = setup(store);
    await first.node.dispatch(first.ada("open", { id: "w1" }));
    const withdraw = first.ada("withdraw", { id: "w1", amount: 50 });
    const refused = await first.node.dispatch(withdraw);
    const second = setup(store); // a fresh host on the same store
    await second.node.dispatch(second.ada("deposit", { id: "w1", amount: 100 }));
    expect((await second.node.dispatch(withdraw)).response).toEqual(refused.response);
    expect((await second.host.getState("w1"))?.state.balance).toBe(100);
  });

  it("a deposit re-sent after 10,000 newer commands on the same aggregate is applied once", async () => {
    const { node, host, store, ada } = setup();
    await node.dispatch(ada("open", { id: "w1" }));
    const deposit = ada("deposit", { id: "w1", amount: 7 });
    const first = await node.dispatch(deposit);
    expect(first.response).toEqual({ status: "ok", version: 1 });
    for (let i = 0; i < 10_000; i++) await node.dispatch(ada("deposit", { id: "w1", amount: 1 }));
    host.unload("w1");
    expect((await node.dispatch(deposit)).response).toEqual({ status: "ok", version: 1 });
    expect((await host.getState("w1"))?.state.balance).toBe(10_007);
    expect(await store.version("wallet-w1")).toBe(10_001);
  });

  it("a not_found answer is final too: the same message does not run once the aggregate exists", async () => {
    const { node, host, ada } = setup();
    const early = ada("deposit", { id: "w2", amount: 5 });
    expect((await node.dispatch(early)).response).toEqual({ status: "not_found" });
    await node.dispatch(ada("open", { id: "w2" }));
    expect((await node.dispatch(early)).response).toEqual({ status: "not_found" });
    expect((await host.getState("w2"))?.state.balance).toBe(0);
  });

  it("a dry run records nothing: the real command with another id still runs", async () => {
    const { node, host, ada } = setup();
    await node.dispatch(ada("open", { id: "w1" }));
    const dry = await node.validate(ada("deposit", { id: "w1", amount: 3 }));
    expect(dry.response).toEqual({ status: "ok", version: 0 });
    const real = ada("deposit", { id: "w1", amount: 3 });
    expect((await node.dispatch(real.with({ id: dry.id }))).response).toEqual({ status: "ok", version: 1 });
    expect((await host.getState("w1"))?.state.balance).toBe(3);
  });
});

describe("the aggregate's own authorization sees the state the command runs on", () => {
  it("only the owner commands the wallet; a denial is a final answer; no extra read", async () => {
    const { node, host, ada, bob } = setup();
    await node.dispatch(ada("open", { id: "w1" }));
    const theft = bob("withdraw", { id: "w1", amount: 1 });
    // Marked as a router's denial is: it reads as one (HTTP 403) whatever its reason.
    expect((await node.dispatch(theft)).response).toEqual(Response.forbidden());
    expect((await node.dispatch(bob("deposit", { id: "w1", amount: 1 }))).response).toEqual({
      status: "error",
      reason: "forbidden",
      denied: true,
    });
    await node.dispatch(ada("give_to", { id: "w1", owner: "bob" }));
    // Re-delivered, the denial stays: the command never runs under the new owner.
    expect((await node.dispatch(theft)).response).toEqual(Response.forbidden());
    expect((await node.dispatch(bob("deposit", { id: "w1", amount: 4 }))).response).toEqual({
      status: "ok",
      version: 2,
    });
    expect((await host.getState("w1"))?.state).toEqual({ owner: "bob", balance: 4 });
  });

  it("reads through the host's state service are checked by the same rule", async () => {
    const { node, host, ada, bob } = setup();
    await node.dispatch(ada("open", { id: "w1" }));
    const router = defineRouter({
      name: "reads",
      services: { wallet_state: host.stateService() },
      authorize: () => true,
    });
    node.register(router);
    expect((await node.dispatch(bob("wallet_state", { id: "w1" }))).response).toEqual({
      status: "error",
      reason: "forbidden",
      denied: true,
    });
    expect((await node.dispatch(ada("wallet_state", { id: "w1" }))).response).toEqual({
      status: "ok",
      payload: { state: { owner: "ada", balance: 0 }, version: 0 },
    });
  });

  it("commands queued behind an owner change are checked against the new owner (same turn, no race)", async () => {
    const { node, host, ada } = setup();
    await node.dispatch(ada("open", { id: "w1" }));
    const replies = await Promise.all([
      node.dispatch(ada("give_to", { id: "w1", owner: "bob" })),
      node.dispatch(ada("deposit", { id: "w1", amount: 1 })),
    ]);
    expect(replies.map((r) => r.response?.status)).toEqual(["ok", "error"]);
    expect((await host.getState("w1"))?.state.balance).toBe(0);
  });
});

describe("offline clients' commands: per-client sequence numbers", () => {
  const push = (user: string, clientId: string, commands: Array<[number, string, Record<string, unknown>, string?]>) =>
    commands.map(
      ([seq, command, rawRequest, id]): ClientCommand => ({
        route: { flow: command === "open" ? "onNew" : "on", command, idField: "id", generateIdIfMissing: false },
        message: Message.new(command, { rawRequest, ...(id ? { id } : {}) }).assign("principal", { user }),
        client: { clientId, seq },
      }),
    );

  it("runs in order, answers a re-pushed command with its recorded answer, and refuses gaps", async () => {
    const { host } = setup();
    const batch = push("ada", "c1", [
      [1, "open", { id: "w1" }, "m1"],
      [2, "deposit", { id: "w1", amount: 10 }, "m2"],
      [3, "withdraw", { id: "w1", amount: 50 }, "m3"],
      [4, "withdraw", { id: "w1", amount: 4 }, "m4"],
    ]);
    const results = await host.sync.runClientCommands("w1", batch);
    expect(results.map((r) => r.status)).toEqual(["applied", "applied", "rejected", "applied"]);
    // The whole batch again (a lost push answer): the same answers, nothing runs twice.
    expect(await host.sync.runClientCommands("w1", batch)).toEqual(results);
    expect((await host.getState("w1"))?.state.balance).toBe(6);
    const gap = await host.sync.runClientCommands("w1", push("ada", "c1", [[6, "deposit", { id: "w1", amount: 1 }]]));
    expect(gap[0]).toEqual({
      status: "rejected",
      response: { status: "error", reason: { code: "sequence_gap", expected: 5, received: 6 } },
    });
    const reused = await host.sync.runClientCommands(
      "w1",
      push("ada", "c1", [[2, "deposit", { id: "w1", amount: 1 }]]),
    );
    expect(reused[0]?.response).toEqual({ status: "error", reason: { code: "sequence_reused", seq: 2, last: 4 } });
    expect((await host.getState("w1"))?.state.balance).toBe(6);
  });

  it("re-pushed after 10,000 newer commands of other clients, a command is answered, not re-applied", async () => {
    const { host, store } = setup();
    await host.sync.runClientCommands("w1", push("ada", "c1", [[1, "open", { id: "w1" }, "m1"]]));
    const deposit = push("ada", "c1", [[2, "deposit", { id: "w1", amount: 5 }, "m2"]]);
    await host.sync.runClientCommands("w1", deposit);
    for (let i = 1; i <= 10_000; i++) {
      await host.sync.runClientCommands(
        "w1",
        push("ada", `other-${i % 7}`, [[Math.ceil(i / 7), "deposit", { id: "w1", amount: 1 }]]),
      );
    }
    host.unload("w1");
    expect(await host.sync.runClientCommands("w1", deposit)).toEqual([
      { status: "applied", response: { status: "ok", version: 1 } },
    ]);
    expect((await host.getState("w1"))?.state.balance).toBe(10_005);
    expect(await store.clientSequence("wallet-w1", "c1")).toBe(2);
  });

  it("a storage failure answers retry and stops the aggregate's batch; nothing is recorded, the re-push applies once", async () => {
    const store = createMemoryEventStore();
    let failNext = false;
    const flaky: EventStore = {
      ...store,
      append: (...args) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error("disk full"));
        }
        return store.append(...args);
      },
    };
    const { host } = setup(flaky);
    await host.sync.runClientCommands("w1", push("ada", "c1", [[1, "open", { id: "w1" }, "m1"]]));
    const batch = push("ada", "c1", [
      [2, "deposit", { id: "w1", amount: 1 }, "m2"],
      [3, "deposit", { id: "w1", amount: 2 }, "m3"],
    ]);
    failNext = true;
    const results = await host.sync.runClientCommands("w1", batch);
    expect(results.map((r) => r.status)).toEqual(["retry", "not_processed"]);
    expect(await store.clientSequence("wallet-w1", "c1")).toBe(1);
    expect((await host.sync.runClientCommands("w1", batch)).map((r) => r.status)).toEqual(["applied", "applied"]);
    expect((await host.getState("w1"))?.state.balance).toBe(3);
  });

  it("a denial bumps the sequence like any final answer, so it never blocks the queue", async () => {
    const { host, ada, node, store } = setup();
    await node.dispatch(ada("open", { id: "w1" }));
    const results = await host.sync.runClientCommands(
      "w1",
      push("bob", "c9", [
        [1, "deposit", { id: "w1", amount: 1 }],
        [2, "withdraw", { id: "w1", amount: 1 }],
      ]),
    );
    expect(results.map((r) => [r.status, r.response?.status])).toEqual([
      ["rejected", "error"],
      ["rejected", "error"],
    ]);
    // Both are denials, not a denial and then a gap: the first one moved the sequence.
    expect(results.map((r) => Response.isDenied(r.response))).toEqual([true, true]);
    expect(await store.clientSequence("wallet-w1", "c9")).toBe(2);
  });
});
