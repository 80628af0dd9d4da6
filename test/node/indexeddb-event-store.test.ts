// The IndexedDB event store on fake-indexeddb: the core contract (a fresh IDBFactory per case), plus
// what only this adapter promises: one transaction per append, typed failures, versionchange, shared transactions.

import * as fake from "fake-indexeddb";
import { type OpenDBCallbacks, openDB } from "idb";
import { describe, expect, it, vi } from "vitest";
import {
  appendInTransaction,
  createX3mStores,
  EVENT_STORE_NAMES,
  type IndexedDbEventStore,
  indexedDbFailureOf,
  openIndexedDbEventStore,
  readStreamInTransaction,
  streamVersionInTransaction,
  X3M_SCHEMA_VERSION,
  X3M_STORES,
  type X3mSchema,
} from "../../adapters/indexeddb/index.ts";
import { isSdkClientError, SdkErrorCode } from "../../src/index.ts";
import { eventStoreContract, VirtualClock } from "../../src/testing/index.ts";
import { useFakeIndexedDbGlobals } from "./fake-indexeddb.ts";

useFakeIndexedDbGlobals();

const open = (options: { indexedDB?: IDBFactory; clock?: VirtualClock } = {}) =>
  openIndexedDbEventStore({ indexedDB: options.indexedDB ?? new fake.IDBFactory(), clock: options.clock });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function unchanged(store: IndexedDbEventStore, stream: string, version: number, lastPosition: number) {
  expect(await store.version(stream)).toBe(version);
  expect(await store.lastPosition()).toBe(lastPosition);
  expect((await store.readAll({ limit: 10_000 })).length).toBe(lastPosition);
}

describe("event store contract: IndexedDB (fake-indexeddb)", () => {
  for (const contractCase of eventStoreContract(() => open())) {
    it(contractCase.name, () => contractCase.run());
  }
});

describe("IndexedDB event store: failures are typed and leave nothing half-written", () => {
  it("a transaction that aborts on its last event writes none of the append (versions and positions unchanged)", async () => {
    const store = await open();
    await store.append("s", [{ type: "A" }], { expectedVersion: "no_stream" });
    // A stray row already holding version 3 of "s": the append's third event then breaks the unique
    // [stream, epoch, version] index, after its first two puts were issued.
    const tx = store.db.transaction(X3M_STORES.events, "readwrite");
    await tx.store.put({
      position: 100,
      stream: "s",
      epoch: 0,
      version: 3,
      type: "X",
      data: {},
      metadata: {},
      recordedAt: 0,
    });
    await tx.done;
    const error = await rejection(
      store.append("s", [{ type: "B" }, { type: "C" }, { type: "D" }], { expectedVersion: 0 }),
    );
    expect(isSdkClientError(error)).toBe(true);
    expect(indexedDbFailureOf(error)).toBe("failed");
    expect((error as Error).message).toMatch(/ConstraintError/);
    expect(await store.version("s")).toBe(0);
    expect((await store.read("s")).map((e) => e.type)).toEqual(["A"]);
    expect((await store.readAll()).map((e) => e.position)).toEqual([1, 100]);
  });

  it("an event that cannot be cloned rejects with INVALID_MESSAGE (data_clone) and writes nothing", async () => {
    const store = await open();
    await store.append("s", [{ type: "A" }]);
    const error = await rejection(store.append("s", [{ type: "B" }, { type: "C", callback: () => {} }]));
    expect(isSdkClientError(error) && error.code).toBe(SdkErrorCode.INVALID_MESSAGE);
    expect(indexedDbFailureOf(error)).toBe("data_clone");
    await unchanged(store, "s", 0, 1);
    expect((await store.append("s", [{ type: "B" }])).ok).toBe(true); // the store still works
  });

  it("metadata that cannot be cloned is refused the same way", async () => {
    const store = await open();
    const error = await rejection(
      store.append("s", [{ type: "A" }], { metadata: { messageId: "m", bad: Symbol("x") } }),
    );
    expect(indexedDbFailureOf(error)).toBe("data_clone");
    await unchanged(store, "s", -1, 0);
  });

  it("an append whose shared transaction is aborted leaves the stream, the positions and the other writes unchanged", async () => {
    const store = await open();
    await store.append("s", [{ type: "A" }]);
    const heard: number[] = [];
    store.subscribe((events) => heard.push(...events.map((e) => e.position)));
    const tx = store.db.transaction([...EVENT_STORE_NAMES, X3M_STORES.sync], "readwrite");
    const result = await store.appendInTransaction(tx, "s", [{ data: { type: "B" } }, { data: { type: "C" } }]);
    expect(result).toEqual({ ok: true, version: 2, firstPosition: 2, lastPosition: 3 });
    await tx.objectStore(X3M_STORES.sync).put({ key: "cursor" });
    tx.abort();
    const error = await rejection(tx.done);
    expect((error as DOMException).name).toBe("AbortError");
    await unchanged(store, "s", 0, 1);
    expect(await store.db.get(X3M_STORES.sync, "cursor")).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(heard).toEqual([]); // nothing was committed, so nothing is announced
  });

  it("commit() is asked for only once every write succeeded (Firefox keeps the rest of a transaction whose pending write fails after commit())", async () => {
    const store = await open();
    const writes: IDBRequest[] = [];
    const pendingAtCommit: number[] = [];
    const put = fake.IDBObjectStore.prototype.put;
    const putSpy = vi.spyOn(fake.IDBObjectStore.prototype, "put").mockImplementation(function (
      this: IDBObjectStore,
      ...args
    ) {
      const request = put.apply(this, args);
      writes.push(request);
      return request;
    });
    const commit = fake.IDBTransaction.prototype.commit;
    const commitSpy = vi.spyOn(fake.IDBTransaction.prototype, "commit").mockImplementation(function (
      this: IDBTransaction,
    ) {
      pendingAtCommit.push(writes.filter((request) => request.readyState === "pending").length);
      commit.call(this);
    });
    try {
      await store.append("s", [{ type: "A" }, { type: "B" }, { type: "C" }]);
      await store.saveSnapshot("s", { version: 2, schemaVersion: 1, state: {} });
      await store.deleteStream("s");
    } finally {
      putSpy.mockRestore();
      commitSpy.mockRestore();
    }
    expect(writes.length).toBeGreaterThanOrEqual(6);
    expect(pendingAtCommit).toEqual([0, 0, 0]);
  });

  it("appendInTransaction on a transaction without the x3m stores rejects (invalid) and aborts it", async () => {
    const store = await open();
    const tx = store.db.transaction(X3M_STORES.sync, "readwrite");
    const error = await rejection(appendInTransaction(tx, "s", [{ data: { type: "A" } }]));
    expect(indexedDbFailureOf(error)).toBe("invalid");
    expect(((await rejection(tx.done)) as DOMException).name).toBe("AbortError");
    await unchanged(store, "s", -1, 0);
  });
});

describe("IndexedDB event store: appendInTransaction in a transaction the caller owns", () => {
  it("commits the events with the caller's own writes, per-event metadata merged over the shared one", async () => {
    const clock = new VirtualClock(1_000);
    const store = await open({ clock });
    const heard: number[][] = [];
    store.subscribe((events) => heard.push(events.map((e) => e.position)));
    const tx = store.db.transaction([...EVENT_STORE_NAMES, X3M_STORES.sync], "readwrite");
    const first = await store.appendInTransaction(
      tx,
      "acc",
      [
        { data: { type: "Opened" }, metadata: { messageId: "m-1" } },
        { data: { type: "Deposited" }, metadata: { messageId: "m-2" } },
      ],
      { expectedVersion: "no_stream", metadata: { messageId: "shared", origin: "edge" } },
    );
    // Later appends in the same transaction see the earlier ones.
    expect(await streamVersionInTransaction(tx, "acc")).toBe(1);
    const second = await store.appendInTransaction(tx, "acc", [{ data: { type: "Closed" } }], { expectedVersion: 1 });
    const stale = await appendInTransaction(tx, "acc", [{ data: { type: "X" } }], { expectedVersion: 1 });
    expect((await readStreamInTransaction(tx, "acc")).map((e) => e.type)).toEqual(["Opened", "Deposited", "Closed"]);
    await tx.objectStore(X3M_STORES.sync).put({ key: "cursor" });
    expect(heard).toEqual([]); // not before the commit
    await tx.done;
    expect(first).toEqual({ ok: true, version: 1, firstPosition: 1, lastPosition: 2 });
    expect(second).toEqual({ ok: true, version: 2, firstPosition: 3, lastPosition: 3 });
    expect(stale.ok ? "ok" : stale.error.actual).toBe(2);
    const events = await store.read("acc");
    expect(events.map((e) => e.metadata)).toEqual([
      { messageId: "m-1", origin: "edge" },
      { messageId: "m-2", origin: "edge" },
      {},
    ]);
    expect(events.map((e) => e.recordedAt)).toEqual([1_000, 1_000, 1_000]);
    expect(await store.db.get(X3M_STORES.sync, "cursor")).toEqual({ key: "cursor" });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(heard).toEqual([[1, 2], [3]]);
  });

  it("readStreamInTransaction reads the whole stream by default, a page when given one", async () => {
    const store = await open();
    await store.append(
      "big",
      Array.from({ length: 1_500 }, (_, n) => ({ type: "N", n })),
    );
    const tx = store.db.transaction(EVENT_STORE_NAMES, "readonly");
    const [all, page, none] = await Promise.all([
      readStreamInTransaction(tx, "big"),
      readStreamInTransaction(tx, "big", { from: 1_498, limit: 5 }),
      readStreamInTransaction(tx, "missing"),
    ]);
    expect(all.map((e) => e.version)).toEqual(Array.from({ length: 1_500 }, (_, i) => i));
    expect(page.map((e) => e.version)).toEqual([1_498, 1_499]);
    expect(none).toEqual([]);
    expect((await store.read("big")).length).toBe(1_000); // the store's read keeps the contract's page size
  });
});

describe("IndexedDB event store: connections", () => {
  it("on versionchange it closes its connection (the upgrade is not blocked), tells the app, and later calls reject", async () => {
    const indexedDB = new fake.IDBFactory();
    const changes: Array<number | null> = [];
    const store = await openIndexedDbEventStore({
      indexedDB,
      name: "app",
      onVersionChange: (event) => changes.push(event.newVersion),
    });
    await store.append("s", [{ type: "A" }]);
    const request = indexedDB.open("app", X3M_SCHEMA_VERSION + 1);
    const upgraded = await new Promise<IDBDatabase>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("the upgrade is blocked by the store's connection"));
    });
    expect(upgraded.version).toBe(X3M_SCHEMA_VERSION + 1);
    expect(changes).toEqual([X3M_SCHEMA_VERSION + 1]);
    const error = await rejection(store.append("s", [{ type: "B" }]));
    expect(isSdkClientError(error) && error.code).toBe(SdkErrorCode.STORAGE_FAILED);
    expect(indexedDbFailureOf(error)).toBe("closed");
    expect(indexedDbFailureOf(await rejection(store.version("s")))).toBe("closed");
    upgraded.close();
  });

  it("two stores on one database (two tabs) keep versions contiguous and positions gapless", async () => {
    const indexedDB = new fake.IDBFactory();
    const tabs = [
      await openIndexedDbEventStore({ indexedDB, name: "shared" }),
      await openIndexedDbEventStore({ indexedDB, name: "shared" }),
    ];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (tabs[i % 2] as IndexedDbEventStore).append("s", [
          { type: "E", i },
          { type: "F", i },
        ]),
      ),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    for (const tab of tabs) {
      expect((await tab.read("s")).map((e) => e.version)).toEqual(Array.from({ length: 80 }, (_, i) => i));
      expect((await tab.readAll()).map((e) => e.position)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    }
    const race = await Promise.all(
      tabs.map((tab) => tab.append("r", [{ type: "W" }], { expectedVersion: "no_stream" })),
    );
    expect(race.filter((r) => r.ok).length).toBe(1);
  });

  it("lives in an app's own database next to its read models, created by createX3mStores in the app's upgrade", async () => {
    const indexedDB = new fake.IDBFactory();
    vi.stubGlobal("indexedDB", indexedDB); // idb's openDB only knows the global factory
    interface AppSchema extends X3mSchema {
      balances: { key: string; value: { account: string; balance: number } };
    }
    const upgrade: OpenDBCallbacks<AppSchema>["upgrade"] = (db, _old, _new, transaction) => {
      createX3mStores(db, transaction);
      if (!db.objectStoreNames.contains("balances")) db.createObjectStore("balances", { keyPath: "account" });
    };
    const v1 = await openDB<AppSchema>("app", 1, { upgrade });
    expect([...v1.objectStoreNames].sort()).toEqual([
      "balances",
      "x3m_answers",
      "x3m_checkpoints",
      "x3m_clients",
      "x3m_events",
      "x3m_outbox",
      "x3m_snapshots",
      "x3m_streams",
      "x3m_sync",
    ]);
    const outbox = v1.transaction(X3M_STORES.outbox).store;
    expect([outbox.keyPath, outbox.autoIncrement, [...outbox.indexNames].sort()]).toEqual([
      "seq",
      true,
      ["by_failure", "by_message", "by_status", "by_stream"],
    ]);
    const store = await openIndexedDbEventStore({ db: v1 });
    await store.append("acc", [{ type: "Opened" }]);
    store.close();
    expect(indexedDbFailureOf(await rejection(store.version("acc")))).toBe("closed");
    expect(await v1.count(X3M_STORES.events)).toBe(1); // close() leaves the app's connection open
    v1.close();
    // Calling it again on a later upgrade keeps what is there.
    const v2 = await openDB<AppSchema>("app", 2, { upgrade });
    expect((await openIndexedDbEventStore({ db: v2 }).then((s) => s.read("acc"))).length).toBe(1);
    v2.close();
    vi.stubGlobal("indexedDB", undefined);
  });

  it("upgrades a database made by the first layout: new stores and indexes, every event kept and its answer found", async () => {
    const indexedDB = new fake.IDBFactory();
    // The first release's layout (schema version 1), written by hand as it was.
    const request = indexedDB.open("old", 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      const events = db.createObjectStore("x3m_events", { keyPath: "position" });
      events.createIndex("by_stream", ["stream", "epoch", "version"], { unique: true });
      db.createObjectStore("x3m_streams", { keyPath: "stream" });
      db.createObjectStore("x3m_snapshots", { keyPath: ["stream", "schemaVersion"] });
      db.createObjectStore("x3m_checkpoints", { keyPath: "name" });
      const outbox = db.createObjectStore("x3m_outbox", { keyPath: "seq", autoIncrement: true });
      outbox.createIndex("by_status", "status");
      outbox.createIndex("by_stream", "stream");
      db.createObjectStore("x3m_sync", { keyPath: "key" });
      events.put({
        position: 1,
        stream: "acc",
        epoch: 0,
        version: 0,
        type: "Opened",
        data: { type: "Opened" },
        metadata: { messageId: "m-1", response: { status: "created", id: "acc", version: 0 } },
        recordedAt: 0,
      });
      db.createObjectStore("x3m_streams_placeholder"); // an app store of its own, untouched by the upgrade
    };
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const written = old.transaction("x3m_streams", "readwrite");
    written.objectStore("x3m_streams").put({ stream: "acc", version: 0, epoch: 0 });
    await new Promise((resolve, reject) => {
      written.oncomplete = resolve;
      written.onerror = () => reject(written.error);
    });
    old.close();
    const store = await openIndexedDbEventStore({ indexedDB, name: "old" });
    expect(store.db.version).toBe(X3M_SCHEMA_VERSION);
    expect((await store.read("acc")).map((e) => e.type)).toEqual(["Opened"]);
    expect(await store.findAnswer("acc", "m-1")).toEqual({ status: "created", id: "acc", version: 0 });
    expect([...store.db.objectStoreNames]).toContain("x3m_streams_placeholder");
    store.close();
  });

  it("refuses an app database without the x3m stores, and a runtime without IndexedDB", async () => {
    vi.stubGlobal("indexedDB", new fake.IDBFactory());
    const bare = await openDB("bare", 1, { upgrade: (db) => void db.createObjectStore("balances") });
    await expect(openIndexedDbEventStore({ db: bare })).rejects.toThrow(/createX3mStores/);
    bare.close();
    vi.stubGlobal("indexedDB", undefined);
    const error = await rejection(openIndexedDbEventStore());
    expect(isSdkClientError(error) && error.code).toBe(SdkErrorCode.INVALID_OPTIONS);
  });
});
