// Browser-side scenarios for indexeddb.test.ts: the IndexedDB adapter on the engine's real IndexedDB.
import { deleteDB, type IDBPDatabase, openDB } from "idb";
import {
  createIndexedDbCheckpointStore,
  createX3mStores,
  EVENT_STORE_NAMES,
  type IndexedDbEventStore,
  indexedDbFailureOf,
  openIndexedDbEventStore,
  X3M_SCHEMA_VERSION,
  X3M_STORES,
  type X3mSchema,
} from "../../../adapters/indexeddb/index.ts";
import { defineProjector, isSdkClientError } from "../../../src/index.ts";
import { checkpointStoreContract, eventStoreContract } from "../../../src/testing/index.ts";

interface AppSchema extends X3mSchema {
  balances: { key: string; value: { account: string; balance: number } };
}

let counter = 0;
const freshName = (what: string) => `${what}-${Date.now()}-${counter++}`;

/** What a failed call rejected with, in a shape that crosses `page.evaluate`. */
async function failureOf(promise: Promise<unknown>) {
  try {
    await promise;
    return null;
  } catch (error) {
    return {
      sdk: isSdkClientError(error),
      code: isSdkClientError(error) ? error.code : null,
      reason: indexedDbFailureOf(error) ?? null,
      message: error instanceof Error ? error.message : String(error),
    };
  }
}

async function appDb(name: string): Promise<IDBPDatabase<AppSchema>> {
  return openDB<AppSchema>(name, 1, {
    upgrade(db) {
      createX3mStores(db);
      db.createObjectStore("balances", { keyPath: "account" });
    },
  });
}

/** Runs one contract case on fresh databases, then closes and deletes them. */
async function runCase(run: () => Promise<void>, cleanup: Array<() => Promise<void>>) {
  try {
    await run();
    return { ok: true, error: null };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    for (const clean of cleanup) await clean();
  }
}

const scenarios = {
  async eventStoreCase(name: string) {
    const cleanup: Array<() => Promise<void>> = [];
    const cases = eventStoreContract(async () => {
      const dbName = freshName("contract");
      const store = await openIndexedDbEventStore({ name: dbName });
      cleanup.push(async () => {
        store.close();
        await deleteDB(dbName);
      });
      return store;
    });
    const found = cases.find((c) => c.name === name);
    if (!found) return { ok: false, error: `no contract case "${name}"` };
    return runCase(() => found.run(), cleanup);
  },

  async checkpointCase(name: string) {
    const cleanup: Array<() => Promise<void>> = [];
    const cases = checkpointStoreContract(async () => {
      const dbName = freshName("checkpoints");
      const db = await appDb(dbName);
      cleanup.push(async () => {
        db.close();
        await deleteDB(dbName);
      });
      return createIndexedDbCheckpointStore(db, { readModelStores: ["balances"] });
    });
    const found = cases.find((c) => c.name === name);
    if (!found) return { ok: false, error: `no contract case "${name}"` };
    return runCase(() => found.run(), cleanup);
  },

  /** An append whose last event breaks the unique stream index, an uncloneable event, an aborted shared transaction. */
  async halfWrittenAppends() {
    const store = await openIndexedDbEventStore({ name: freshName("failures") });
    await store.append("s", [{ type: "A" }], { expectedVersion: "no_stream" });
    await store.db.put(X3M_STORES.events, {
      position: 100,
      stream: "s",
      epoch: 0,
      version: 3,
      type: "Stray",
      data: {},
      metadata: {},
      recordedAt: 0,
    });
    const constraint = await failureOf(
      store.append("s", [{ type: "B" }, { type: "C" }, { type: "D" }], { expectedVersion: 0 }),
    );
    const afterConstraint = {
      version: await store.version("s"),
      positions: (await store.readAll()).map((e) => e.position),
    };

    const clone = await failureOf(store.append("s", [{ type: "B" }, { type: "C", node: document.createElement("p") }]));
    const afterClone = { version: await store.version("s"), last: await store.lastPosition() };

    const tx = store.db.transaction([...EVENT_STORE_NAMES, X3M_STORES.sync], "readwrite");
    const shared = await store.appendInTransaction(tx, "s", [{ data: { type: "B" } }]);
    await tx.objectStore(X3M_STORES.sync).put({ key: "cursor" });
    tx.abort();
    const aborted = await failureOf(tx.done);
    const afterAbort = {
      version: await store.version("s"),
      last: await store.lastPosition(),
      cursor: (await store.db.get(X3M_STORES.sync, "cursor")) ?? null,
    };
    const retried = await store.append("s", [{ type: "B" }], { expectedVersion: 0 });
    store.close();
    return { constraint, afterConstraint, clone, afterClone, shared, aborted, afterAbort, retried };
  },

  /** Appends a `bytes`-long event after the test shrank the origin's quota. */
  async quota(bytes: number) {
    const store = await openIndexedDbEventStore({ name: freshName("quota") });
    await store.append("s", [{ type: "Small" }]);
    // Random text: engines compress what they store (Firefox does), so a repeated character would fit.
    const chunks: string[] = [];
    for (let length = 0; length < bytes; length += 4 * 3_072) {
      chunks.push(btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(3_072)))));
    }
    const blob = chunks.join("");
    const failure = await failureOf(store.append("s", [{ type: "Big", blob }, { type: "After" }]));
    const after = { version: await store.version("s"), last: await store.lastPosition() };
    store.close();
    return { failure, after };
  },

  /** Page A: opens a store and keeps it, recording versionchange notices. */
  async holdStore(name: string) {
    const changes: Array<number | null> = [];
    const store = await openIndexedDbEventStore({ name, onVersionChange: (event) => changes.push(event.newVersion) });
    await store.append("s", [{ type: "A" }]);
    Object.assign(globalThis, { held: { store, changes } });
    return true;
  },

  /** Page B: opens the same database one version up (another tab deploying a new schema). */
  async upgrade(name: string) {
    let blocked = false;
    const db = await openDB(name, X3M_SCHEMA_VERSION + 1, {
      blocked: () => {
        blocked = true;
      },
    });
    const version = db.version;
    db.close();
    return { version, blocked };
  },

  /** Page A again: what the held store saw and does now. */
  async heldReport() {
    const { store, changes } = (globalThis as unknown as { held: { store: IndexedDbEventStore; changes: number[] } })
      .held;
    return { changes, append: await failureOf(store.append("s", [{ type: "B" }])) };
  },

  /** The read model and the checkpoint commit or abort together; a late await is reported. */
  async checkpointAtomicity() {
    const db = await appDb(freshName("atomic"));
    const store = createIndexedDbCheckpointStore(db, { readModelStores: ["balances"] });
    const credit = (amount: number) => async (tx: Parameters<Parameters<typeof store.commit>[2]>[0]) => {
      const balances = tx.objectStore("balances");
      const row = (await balances.get("acc")) ?? { account: "acc", balance: 0 };
      await balances.put({ ...row, balance: row.balance + amount });
    };
    const committed = await store.commit("p", { expected: 0, next: 1 }, credit(5));
    const thrown = await failureOf(
      store.commit("p", { expected: 1, next: 2 }, async (tx) => {
        await credit(10)(tx);
        throw new Error("boom");
      }),
    );
    const afterThrow = { balance: (await db.get("balances", "acc"))?.balance, checkpoint: await store.load("p") };
    const late = await failureOf(
      store.commit("p", { expected: 1, next: 2 }, async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }),
    );
    const afterLate = await store.load("p");
    db.close();
    return { committed, thrown, afterThrow, late, afterLate };
  },

  /** A projector over the IndexedDB event store into a read model of the same database, then a rebuild. */
  async projector() {
    const db = await appDb(freshName("projector"));
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
    const caughtUp = await projector.waitFor(4, 5_000);
    const live = await db.getAll("balances");
    await projector.rebuild();
    const rebuilt = await db.getAll("balances");
    projector.stop();
    db.close();
    return { caughtUp, live, rebuilt };
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
