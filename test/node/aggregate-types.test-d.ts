import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  type AggregateMessage,
  type CommandNameOf,
  createAggregateHost,
  createMemoryEventStore,
  defineAggregate,
  type EventOf,
  type StateOf,
} from "../../src/index.ts";
import { type Account, type AccountEvent, account } from "../fixtures/account.ts";

type CounterEvent = { type: "Incremented"; by: number } | { type: "Reset" };

describe("aggregate types", () => {
  it("state, events and command names are inferred", () => {
    expectTypeOf<StateOf<typeof account>>().toEqualTypeOf<Account>();
    expectTypeOf<EventOf<typeof account>>().toEqualTypeOf<AccountEvent>();
    expectTypeOf<CommandNameOf<typeof account>>().toEqualTypeOf<
      "open" | "deposit" | "withdraw" | "withdraw_all_and_close" | "open_or_change_owner" | "balance" | "explode"
    >();
  });

  it("handlers get typed state and a message that only accepts the aggregate's events", () => {
    defineAggregate({
      name: "counter",
      initialState: { count: 0 },
      apply: (state: { count: number }, event: CounterEvent) =>
        event.type === "Reset" ? { count: 0 } : { count: state.count + event.by },
      commands: {
        increment: (msg, state) => {
          expectTypeOf(state).toEqualTypeOf<{ count: number }>();
          expectTypeOf(msg).toEqualTypeOf<AggregateMessage<CounterEvent>>();
          return msg.addEvent({ type: "Incremented", by: 1 }).ok();
        },
        // @ts-expect-error: "Decremented" is not an event of this aggregate
        decrement: (msg) => msg.addEvent({ type: "Decremented", by: 1 }).ok(),
        // @ts-expect-error: `by` must be a number
        bad_payload: (msg) => msg.addEvent({ type: "Incremented", by: "one" }).ok(),
      },
    });
  });

  it("with a schema validator, the handler annotates the request type the schema gives", () => {
    const schema = z.object({ by: z.number() });
    defineAggregate({
      name: "typed",
      initialState: { count: 0 },
      apply: (state: { count: number }, _event: CounterEvent) => state,
      commands: {
        add: {
          validate: schema,
          handle: (msg: AggregateMessage<CounterEvent, z.infer<typeof schema>>) => {
            expectTypeOf(msg.request).toEqualTypeOf<{ by: number }>();
            return msg.addEvent({ type: "Incremented", by: msg.request.by }).ok();
          },
        },
      },
    });
  });

  it("host services only accept the aggregate's command names; getState is typed", () => {
    const host = createAggregateHost(account, { store: createMemoryEventStore() });
    host.on("deposit");
    // @ts-expect-error: no such command
    host.on("transfer");
    expectTypeOf(host.getState("a1")).resolves.toEqualTypeOf<{ state: Account; version: number } | undefined>();
  });
});
