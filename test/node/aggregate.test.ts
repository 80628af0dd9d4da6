import { describe, expect, it } from "vitest";
import { foldEvents, initialStateOf, Message } from "../../src/index.ts";
import { aggregateSpec, applyEvents, commandMessage, stateFromEvents } from "../../src/testing/index.ts";
import { type AccountEvent, account } from "../fixtures/account.ts";

const opened: AccountEvent = { type: "AccountOpened", id: "a1", owner: "ada" };
const spec = aggregateSpec(account);

describe("aggregate (pure)", () => {
  it("the initial state has version -1", () => {
    expect(stateFromEvents(account, [])).toEqual({ state: initialStateOf(account), version: -1 });
  });

  it("open emits AccountOpened and answers created, halted; the applied state has id and owner", async () => {
    const outcome = await spec
      .given()
      .when("open", { id: "a1", owner: "ada" })
      .thenEvents({
        events: [opened],
        response: { status: "created", id: "a1" },
      });
    expect(outcome.message.halted).toBe(true);
    expect(outcome.state).toMatchObject({ id: "a1", owner: "ada", balance: 0 });
  });

  it("an invalid request is halted with validation_error, no events, state unchanged", async () => {
    const outcome = await spec.given().when("open", { id: "a1", owner: "" }).thenError({ status: "validation_error" });
    expect(outcome.message.halted).toBe(true);
    expect(outcome.state).toEqual(initialStateOf(account));
  });

  it("validation can use the state: no deposit into a closed account", async () => {
    await spec
      .given([opened, { type: "AccountClosed" }])
      .when("deposit", { amount: 5 })
      .thenError({
        status: "validation_error",
        issues: [{ message: "account is closed", path: [] }],
      });
  });

  it("deposit and withdraw emit events", async () => {
    await spec
      .given([opened])
      .when("deposit", { amount: 50 })
      .thenEvents({
        events: [{ type: "Deposited", amount: 50 }],
        response: { status: "ok" },
      });
    await spec
      .given([opened, { type: "Deposited", amount: 50 }])
      .when("withdraw", { amount: 20 })
      .thenEvents({
        events: [{ type: "Withdrawn", amount: 20 }],
      });
  });

  it("a withdrawal beyond the balance emits WithdrawalRejected AND answers an error; applying it records the rejection", async () => {
    const outcome = await spec
      .given([opened])
      .when("withdraw", { amount: 500 })
      .thenEvents({
        events: [{ type: "WithdrawalRejected", amount: 500 }],
        response: { status: "error", reason: "insufficient_funds" },
      });
    expect(outcome.state).toMatchObject({ balance: 0, rejections: 1 });
  });

  it("a multi-event command keeps its order", async () => {
    await spec
      .given([opened, { type: "Deposited", amount: 7 }])
      .when("withdraw_all_and_close")
      .thenEvents({
        events: [{ type: "Withdrawn", amount: 7 }, { type: "AccountClosed" }],
        response: { status: "ok", payload: 7 },
      });
  });

  it("instance authorization: the owner or an admin, else forbidden", async () => {
    const given = spec.given([opened, { type: "Deposited", amount: 3 }]);
    await given.when("balance", commandMessage("balance", {}, { user: { name: "ada" } })).thenEvents({
      events: [],
      response: { status: "ok", payload: 3 },
    });
    await given
      .when("balance", commandMessage("balance", {}, { user: { name: "eve", admin: true } }))
      .thenNothingHappened();
    await given.when("balance", commandMessage("balance", {}, { user: { name: "eve" } })).thenError({
      status: "error",
      reason: "forbidden",
    });
  });

  it("the spec's assertions fail loudly on a mismatch", async () => {
    await expect(spec.given().when("open", { id: "a1", owner: "ada" }).thenNothingHappened()).rejects.toThrow(
      /expected no events/,
    );
    await expect(spec.given([opened]).when("deposit", { amount: 1 }).thenEvents({ events: [] })).rejects.toThrow(
      /expected events/,
    );
  });
});

describe("TestSupport (the original's test helpers)", () => {
  it("commandMessage with and without raw request and assigns", () => {
    expect(commandMessage("open")).toMatchObject({ serviceName: "open", rawRequest: {}, assigns: {} });
    expect(commandMessage("open", { id: "a" }, { user: "u" })).toMatchObject({
      rawRequest: { id: "a" },
      assigns: { user: "u" },
    });
    expect(commandMessage("x")).toBeInstanceOf(Message);
  });

  it("stateFromEvents: version is the last index, or as given", () => {
    expect(stateFromEvents(account, [opened, { type: "Deposited", amount: 1 }]).version).toBe(1);
    expect(stateFromEvents(account, [opened], { version: 41 }).version).toBe(41);
  });

  it("applyEvents bumps the version by the number of events", () => {
    const start = stateFromEvents(account, [opened]);
    const next = applyEvents(account, start, [
      { type: "Deposited", amount: 2 },
      { type: "Deposited", amount: 3 },
    ]);
    expect(next).toEqual({ state: foldEvents(account, start.state, [{ type: "Deposited", amount: 5 }]), version: 2 });
  });
});

describe("the aggregate mapping helpers are public API", () => {
  it("mapResponse answers as the aggregate host does", async () => {
    const { mapResponse } = await import("../../src/index.ts");
    expect(mapResponse(null, "existing", "a-1", 3)).toEqual({ status: "ok", version: 3 });
    expect(mapResponse({ status: "ok", payload: 1 }, "existing", "a-1", 3)).toEqual({
      status: "ok",
      payload: 1,
      version: 3,
    });
    expect(mapResponse({ status: "created", id: "a-1" }, "new", "a-1", 0)).toEqual({
      status: "created",
      id: "a-1",
      version: 0,
    });
    expect(mapResponse({ status: "created", id: "other" }, "new", "a-1", 0)).toEqual({
      status: "created",
      id: "other",
    });
    expect(mapResponse({ status: "error", reason: "x" }, "existing", "a-1", 3)).toEqual({
      status: "error",
      reason: "x",
    });
  });
});
