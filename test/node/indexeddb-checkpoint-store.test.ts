// The IndexedDB checkpoint store on fake-indexeddb: the core contract, then what the contract leaves to
// each store: the read-model writes made through `tx` commit or abort with the checkpoint.
import * as fake from "fake-indexeddb";
import { type IDBPDatabase, openDB } from "idb";
import { describe, expect, expectTypeOf, it, vi } from "vitest";
import {
  type CheckpointTransaction,
  createIndexedDbCheckpointStore,
  createX3mStores,
  indexedDbFailureOf,
  openIndexedDbEventStore,
  type X3mSchema,
} from "../../adapters/indexeddb/index.ts";
import { defineProjector, isSdkClientError } from "../../src/index.ts";
import { checkpointStoreContract } from "../../src/testing/index.ts";
import { useFakeIndexedDbGlobals } from "./fake-indexeddb.ts";

useFakeIndexedDbGlobals();

interface AppSchema extends X3mSchema {
  balances: { key: string; value: { account: string; balance: number } };
}

/** A fresh app database (its own IDBFactory) with the x3m stores and one read-model store. */
async function appDb(): Promise<IDBPDatabase<AppSchema>> {
  vi.stubGlobal("indexedDB", new fake.IDBFactory()); // idb's openDB only knows the global factory
  return openDB<AppSchema>("app", 1, {
    upgrade(db) {
      createX3mStores(db);
      db.createObjectStore("balances", { keyPath: "account" });
    },
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

const deposit = (amount: number) => async (tx: CheckpointTransaction<AppSchema>) => {
  const balances = tx.objectStore("balances");
  const row = (await balances.get("acc")) ?? { account: "acc", balance: 0 };
  await balances.put({ ...row, balance: row.balance + amount });
};

describe("checkpoint store contract: IndexedDB (fake-indexeddb)", () => {
  for (const contractCase of checkpointStoreContract(async () => createIndexedDbCheckpointStore(await appDb()))) {
    it(contractCase.name, () => contractCase.run());
  }
});

describe("IndexedDB checkpoint store: the read model moves with the checkpoint", () => {
  it("types the transaction with the app's schema", async () => {
    const store = createIndexedDbCheckpointStore(await appDb(), { readModelStores: ["balances"] });
    expectTypeOf(store.commit).parameter(2).parameter(0).toEqualTypeOf<CheckpointTransaction<AppSchema>>();
    // @ts-expect-error: only the schema's stores can join the transaction
    createIndexedDbCheckpointStore(await appDb(), { readModelStores: ["nope"] });
  });

  it("a commit writes the read model and the checkpoint together; a refused one writes neither", async () => {
    const db = await appDb();
    const store = createIndexedDbCheckpointStore(db, { readModelStores: ["balances"] });
    expect(await store.commit("balances", { expected: 0, next: 1 }, deposit(5))).toEqual({ ok: true });
    expect(await store.commit("balances", { expected: 1, next: 3 }, deposit(2))).toEqual({ ok: true });
    expect(await store.commit("balances", { expected: 1, next: 2 }, deposit(100))).toEqual({
      ok: false,
      reason: "ignored",
      actual: 3,
    });
    expect(await db.get("balances", "acc")).toEqual({ account: "acc", balance: 7 });
    expect(await store.load("balances")).toBe(3);
  });

  it("an apply that throws after writing aborts its writes with the checkpoint", async () => {
    const db = await appDb();
    const store = createIndexedDbCheckpointStore(db, { readModelStores: ["balances"] });
    await store.commit("balances", { expected: 0, next: 1 }, deposit(5));
    const boom = new Error("boom");
    const error = await rejection(
      store.commit("balances", { expected: 1, next: 2 }, async (tx) => {
        await deposit(10)(tx);
        throw boom;
      }),
    );
    expect(error).toBe(boom);
    expect(await db.get("balances", "acc")).toEqual({ account: "acc", balance: 5 });
    expect(await store.load("balances")).toBe(1);
  });

  it("a read-model write IndexedDB refuses aborts the checkpoint too", async () => {
    const db = await appDb();
    const store = createIndexedDbCheckpointStore(db, { readModelStores: ["balances"] });
    const error = await rejection(
      store.commit("balances", { expected: 0, next: 1 }, (tx) => {
        // The second add fails later, as a request (ConstraintError), which aborts the transaction.
        const balances = tx.objectStore("balances");
        for (let i = 0; i < 2; i++) balances.add({ account: "acc", balance: i }).catch(() => {});
      }),
    );
    expect(isSdkClientError(error)).toBe(true);
    expect((error as Error).message).toMatch(/ConstraintError/);
    expect(await db.count("balances")).toBe(0);
    expect(await store.load("balances")).toBe(0);
  });

  it("reset truncates the read model and the checkpoint together", async () => {
    const db = await appDb();
    const store = createIndexedDbCheckpointStore(db, { readModelStores: ["balances"] });
    await store.commit("balances", { expected: 0, next: 4 }, deposit(5));
    await expect(
      store.reset("balances", async (tx) => {
        await tx.objectStore("balances").clear();
        throw new Error("truncate failed");
      }),
    ).rejects.toThrow("truncate failed");
    expect([await db.count("balances"), await store.load("balances")]).toEqual([1, 4]);
    await store.reset("balances", (tx) => tx.objectStore("balances").clear());
    expect([await db.count("balances"), await store.load("balances")]).toEqual([0, 0]);
  });

  it("an apply that awaits something else than its transaction is reported as transaction_inactive", async () => {
    const db = await appDb();
    const store = createIndexedDbCheckpointStore(db, { readModelStores: ["balances"] });
    const timer = () => new Promise((resolve) => setTimeout(resolve, 5));
    const lateWrite = await rejection(
      store.commit("balances", { expected: 0, next: 1 }, async (tx) => {
        await timer();
        await deposit(1)(tx);
      }),
    );
    expect(indexedDbFailureOf(lateWrite)).toBe("transaction_inactive");
    const lateCheckpoint = await rejection(
      store.commit("balances", { expected: 0, next: 1 }, async () => {
        await timer();
      }),
    );
    expect(indexedDbFailureOf(lateCheckpoint)).toBe("transaction_inactive");
    expect((lateCheckpoint as Error).message).toMatch(/without the checkpoint/);
    expect(await store.load("balances")).toBe(0);
  });

  it("runs a projector over the IndexedDB event store into a read model in the same database, and rebuilds it", async () => {
    const db = await appDb();
    const events = await openIndexedDbEventStore({ db });
    const projector = defineProjector({
      name: "balances",
      source: events,
      checkpoints: createIndexedDbCheckpointStore(db, { readModelStores: ["balances"] }),
      handles: ["Deposited"],
      dependentHydration: true,
      recoveryDelayMs: 1,
      recoveryJitterMs: 0,
      handle: async (event, tx) => {
        const balances = tx.objectStore("balances");
        const row = (await balances.get(event.stream)) ?? { account: event.stream, balance: 0 };
        await balances.put({ ...row, balance: row.balance + (event.data as { amount: number }).amount });
      },
      truncate: (tx) => tx.objectStore("balances").clear(),
    });
    await events.append("a", [{ type: "Opened" }, { type: "Deposited", amount: 5 }]);
    await projector.start();
    await events.append("b", [{ type: "Deposited", amount: 2 }]);
    await events.append("a", [{ type: "Deposited", amount: 1 }]);
    expect(await projector.waitFor(4, 2_000)).toBe(true);
    expect(await db.getAll("balances")).toEqual([
      { account: "a", balance: 6 },
      { account: "b", balance: 2 },
    ]);
    await projector.rebuild();
    expect(await db.getAll("balances")).toEqual([
      { account: "a", balance: 6 },
      { account: "b", balance: 2 },
    ]);
    expect(await createIndexedDbCheckpointStore(db).load("balances")).toBe(4);
    projector.stop();
  });
});
