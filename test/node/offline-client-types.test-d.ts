// The offline client is typed by the aggregates it is given: names, commands and states.
import { describe, expectTypeOf, it } from "vitest";
import {
  type AggregateView,
  createOfflineClient,
  type IndexedDbEventStore,
  type OfflineAggregate,
} from "../../adapters/indexeddb/index.ts";
import { type Account, account } from "../fixtures/account.ts";

declare const store: IndexedDbEventStore;
const offline = createOfflineClient({ store, aggregates: { account }, endpoint: { url: "/x3m/sync" } });

describe("offline client types", () => {
  it("aggregate names come from `aggregates`", () => {
    expectTypeOf(offline.aggregate("account")).toEqualTypeOf<OfflineAggregate<typeof account>>();
    // @ts-expect-error: a misspelt aggregate name does not compile
    offline.aggregate("acount");
    // @ts-expect-error: nor does tracking one
    void offline.track("acount", "id");
  });

  it("command names come from the aggregate's commands", () => {
    const accounts = offline.aggregate("account");
    accounts.on("deposit");
    accounts.onNew("open");
    accounts.onMaybeNew("open_or_change_owner");
    // @ts-expect-error: a misspelt command does not compile
    accounts.on("depositt");
    // @ts-expect-error: nor on onNew
    accounts.onNew("opne");
  });

  it("the view is typed by the aggregate's state", async () => {
    const view = await offline.aggregate("account").view("acc-1");
    expectTypeOf(view).toEqualTypeOf<AggregateView<Account>>();
    expectTypeOf(view.state.balance).toEqualTypeOf<number>();
    // @ts-expect-error: a state field that does not exist does not compile
    void view.state.balanse;
  });
});
