// A queued command run again on a new confirmed state (the offline client's rebase) is answered exactly as
// the aggregate host answers it: the same denial, the same exception, the same refusal of a handler that
// returns no message.
import { describe, expect, it } from "vitest";
import type { OutboxRow } from "../../adapters/indexeddb/outbox.ts";
import { rerun } from "../../adapters/indexeddb/rebase.ts";
import {
  type AggregateRoute,
  createAggregateHost,
  createMemoryEventStore,
  defineAggregate,
  Message,
} from "../../src/index.ts";
import { ownedAccount } from "../fixtures/account.ts";

const odd = defineAggregate({
  ...ownedAccount,
  name: "odd_account",
  authorize: undefined,
  commands: {
    ...ownedAccount.commands,
    trip: () => {
      throw new TypeError("tripped over the state");
    },
    // A handler that forgot to return its message.
    forgetful: () => ({ status: "ok" }) as never,
  },
});

const as = (user: string, service: string, rawRequest: Record<string, unknown>) =>
  Message.new(service, { rawRequest }).assign("principal", { user });

const on = (command: string): AggregateRoute => ({ flow: "on", command, idField: "id", generateIdIfMissing: false });

/** The row the offline client keeps for `message`, as it queues it. */
function rowOf(message: Message, aggregate: string, route: AggregateRoute): OutboxRow {
  return {
    messageId: message.id,
    aggregate,
    aggregateId: "a1",
    stream: `${aggregate}-a1`,
    clientSeq: 1,
    route,
    command: message.toJSON(),
    events: [],
    localResponse: null,
    status: "pending",
    tab: "tab-1",
    createdAt: 0,
  };
}

/** The host's answer to `message` on an account opened by Ada. */
async function hostAnswer(aggregate: typeof odd | typeof ownedAccount, command: string, message: Message) {
  const host = createAggregateHost(aggregate, { store: createMemoryEventStore() });
  await host.onNew("open")(as("ada", "open", { id: "a1" }));
  return ((await host.on(command as never)(message)) as Message).response;
}

const opened = { state: { id: "a1", owner: "ada", balance: 0, closed: false }, version: 0 };

describe("rebase: a command run again is answered as the host answers it", () => {
  it("a denial on the new state is the host's denial (marked denied)", async () => {
    const deposit = as("bob", "deposit", { id: "a1", amount: 5 });
    const { row } = await rerun(ownedAccount, rowOf(deposit, "owned_account", on("deposit")), opened);
    const host = await hostAnswer(ownedAccount, "deposit", deposit);
    expect(host).toEqual({ status: "error", reason: "forbidden", denied: true });
    expect(row.localFailure).toEqual(host);
    expect(row.events).toEqual([]);
  });

  it("a handler that throws is answered with its exception, name included", async () => {
    const trip = as("ada", "trip", { id: "a1" });
    const { row } = await rerun(odd, rowOf(trip, "odd_account", on("trip")), opened);
    const host = await hostAnswer(odd, "trip", trip);
    expect(host).toEqual({
      status: "error",
      reason: { exception: { name: "TypeError", message: "tripped over the state" } },
    });
    expect(row.localFailure).toEqual(host);
  });

  it("a handler that returns no message is refused, not a crash of the sync round", async () => {
    const forgetful = as("ada", "forgetful", { id: "a1" });
    const { row, next } = await rerun(odd, rowOf(forgetful, "odd_account", on("forgetful")), opened);
    const host = await hostAnswer(odd, "forgetful", forgetful);
    expect(host).toEqual({ status: "error", reason: "invalid_handler_result" });
    expect(row.localFailure).toEqual(host);
    expect(next).toBe(opened);
  });
});
