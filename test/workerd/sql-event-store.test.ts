// The SQL event store's own guarantees beyond the contract, inside real SQLite-backed objects: a new
// command's check and append are one statement; answers are found again after a restart whatever their
// id; a failed append writes nothing and positions stay gapless; a database written by the previous
// release opens and carries on.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createSqlEventStore } from "../../adapters/durable-objects/sql-event-store.ts";
import type { DurableSqlStorage } from "../../adapters/durable-objects/storage.ts";
import { Message } from "../../src/index.ts";

/** Runs `body` inside a fresh object, with its storage. */
function inObject(body: (storage: DurableObjectStorage) => Promise<void>): Promise<void> {
  const stub = env.PROBE.get(env.PROBE.idFromName(`sql-event-store:${crypto.randomUUID()}`));
  return runInDurableObject(stub, (_instance, state) => body(state.storage));
}

/** The storage with every statement logged, and chosen statements made to fail. */
function watched(storage: DurableObjectStorage) {
  const log: string[] = [];
  const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  let failing: ((query: string, index: number) => boolean) | undefined;
  let inserts = 0;
  const watchedStorage: DurableSqlStorage = {
    sql: {
      exec(query: string, ...bindings: unknown[]) {
        log.push(query.trim());
        if (query.includes("INSERT INTO x3m_events") && failing?.(query, inserts++)) throw new Error("disk full");
        const cursor = storage.sql.exec(query, ...bindings);
        cursors.push(cursor);
        return cursor;
      },
    },
    transactionSync: (closure) => {
      log.push("transactionSync");
      return storage.transactionSync(closure);
    },
  };
  return {
    storage: watchedStorage,
    log,
    /** Rows SQLite read for all statements so far. */
    rowsRead: () => cursors.reduce((sum, cursor) => sum + cursor.rowsRead, 0),
    /** Fails the event inserts for which `when(query, n)` holds (`n` counts event inserts from 0). */
    failInserts(when: ((query: string, index: number) => boolean) | undefined) {
      failing = when;
      inserts = 0;
    },
  };
}

const ok = { status: "ok" } as const;
const newId = () => Message.new("deposit").id;
/** A UUIDv7-shaped id whose time is `n`: ordered by `n`, and below every id made today. */
const v7 = (n: number) => `${n.toString(16).padStart(8, "0")}-0000-7000-8000-000000000000`;

describe("SQL event store: the write path", () => {
  it("a new command's answer check costs no statement and its append is one INSERT (no transaction)", async () => {
    await inObject(async (storage) => {
      const { storage: counted, log } = watched(storage);
      const store = createSqlEventStore(counted);
      const first = newId();
      await store.append("acc", [{ type: "Opened" }], { answer: { messageId: first, response: ok } });
      expect(await store.findAnswer("acc", first)).toEqual(ok);
      expect(await store.findAnswer("acc", newId())).toBeUndefined(); // reads the bounds the check needs
      expect(await store.clientSequence("acc", "client-a")).toBe(0);
      log.length = 0;

      for (let seq = 1; seq <= 3; seq++) {
        const id = newId();
        expect(await store.findAnswer("acc", id)).toBeUndefined();
        expect(await store.clientSequence("acc", "client-a")).toBe(seq - 1);
        const client = { clientId: "client-a", seq };
        const appended = await store.append("acc", [{ type: "Deposited", amount: 1 }], {
          expectedVersion: seq - 1,
          answer: { messageId: id, response: { status: "ok", version: seq }, client },
        });
        expect(appended).toEqual({ ok: true, version: seq, firstPosition: seq + 1, lastPosition: seq + 1 });
      }
      expect(log).toHaveLength(3);
      for (const query of log) expect(query).toMatch(/^INSERT INTO x3m_events \(position,/);
      // The client's sequence moved with its events (the trigger), as a fresh store reads it.
      expect(await createSqlEventStore(storage).clientSequence("acc", "client-a")).toBe(3);
      // An id answered before is looked up, and found.
      expect(await store.findAnswer("acc", first)).toEqual(ok);
    });
  });

  it("answers are found again by a fresh store (a restart), whatever their id's shape, place or alphabet", async () => {
    await inObject(async (storage) => {
      const before = createSqlEventStore(storage);
      const answers = [
        [v7(5), "events"],
        [v7(2), "events"],
        [v7(9), "row"],
        ["m-5", "events"],
        ["a-9", "row"],
        ["deposit-7", "events"], // inside the UUIDv7 range of strings, above every UUIDv7 id here
        ["zürich-1", "row"],
        ["ö", "events"],
      ] as const;
      for (const [messageId, where] of answers) {
        const response = { status: "ok", payload: messageId } as const;
        if (where === "row") await before.recordAnswer("acc", { messageId, response });
        else await before.append("acc", [{ type: "E" }], { answer: { messageId, response } });
      }
      const after = createSqlEventStore(storage);
      for (const [messageId] of answers) {
        expect(await after.findAnswer("acc", messageId)).toEqual({ status: "ok", payload: messageId });
      }
      for (const unknown of [v7(1), v7(3), v7(10), "m-1", "m-9", "zz", "zürich-2", "é"]) {
        expect(await after.findAnswer("acc", unknown)).toBeUndefined();
      }
      expect(await after.findAnswer("other", "a-9")).toBeUndefined();
      expect(await after.findAnswer("other", v7(9))).toBeUndefined();

      // Recorded through this store after its bounds were read: found too.
      await after.recordAnswer("acc", { messageId: v7(20), response: ok });
      await after.append("acc", [{ type: "E" }], { answer: { messageId: v7(21), response: ok } });
      expect(await after.findAnswer("acc", v7(20))).toEqual(ok);
      expect(await after.findAnswer("acc", v7(21))).toEqual(ok);
    });
  });

  it("the greatest UUIDv7 recorded, in the events or the answers table, is found again after a restart", async () => {
    for (const greatestIn of ["events", "answers"] as const) {
      await inObject(async (storage) => {
        const before = createSqlEventStore(storage);
        const [inEvents, inAnswers] = greatestIn === "events" ? [v7(9), v7(5)] : [v7(5), v7(9)];
        await before.append("s", [{ type: "E" }], { answer: { messageId: inEvents, response: ok } });
        await before.recordAnswer("s", { messageId: inAnswers, response: ok });
        const after = createSqlEventStore(storage);
        expect(await after.findAnswer("s", v7(9))).toEqual(ok);
        expect(await after.findAnswer("s", v7(5))).toEqual(ok);
        expect(await after.findAnswer("s", v7(10))).toBeUndefined();
      });
    }
  });

  it("ids of other shapes on the aggregate (app-chosen, odd) do not switch the check off for new UUIDv7 ids", async () => {
    await inObject(async (storage) => {
      const before = createSqlEventStore(storage);
      await before.append("s", [{ type: "E" }], { answer: { messageId: newId(), response: ok } });
      for (const messageId of ["order-1", "deposit-9", "f", "~~~", "ffffffff-ffff-7fff-bfff-fffffffffff"]) {
        await before.append("s", [{ type: "E" }], { answer: { messageId, response: ok } });
        await before.recordAnswer("s", { messageId: `${messageId}-refused`, response: ok });
      }
      const { storage: counted, log } = watched(storage);
      const after = createSqlEventStore(counted);
      await after.version("s");
      await after.findAnswer("s", newId()); // reads the bounds
      log.length = 0;
      for (let i = 0; i < 5; i++) expect(await after.findAnswer("s", newId())).toBeUndefined();
      expect(log).toEqual([]);
      expect(await after.findAnswer("s", "deposit-9")).toEqual(ok);
      expect(await after.findAnswer("s", "~~~-refused")).toEqual(ok);
    });
  });

  it("more than 64 other ids above every UUIDv7 one: the check still finds a re-delivered UUIDv7 id", async () => {
    await inObject(async (storage) => {
      const before = createSqlEventStore(storage);
      const old = newId();
      await before.append("s", [{ type: "E" }], { answer: { messageId: old, response: ok } });
      await before.recordAnswer("s", { messageId: newId(), response: ok });
      for (let i = 0; i < 70; i++) {
        const messageId = `a-${String(i).padStart(2, "0")}`; // between today's UUIDv7 ids and the range's top
        await before.append("s", [{ type: "E" }], { answer: { messageId, response: ok } });
        await before.recordAnswer("s", { messageId: `${messageId}-alone`, response: ok });
      }
      expect(await createSqlEventStore(storage).findAnswer("s", old)).toEqual(ok);
    });
  });

  it("after a restart, a stream's state and the answers' bounds are read through indexes, not the log", async () => {
    await inObject(async (storage) => {
      const writer = createSqlEventStore(storage);
      for (let batch = 0; batch < 20; batch++) {
        const events = Array.from({ length: 100 }, () => ({ type: "Deposited", amount: 1 }));
        await writer.append("acc", events, { answer: { messageId: newId(), response: ok } });
        await writer.recordAnswer("acc", { messageId: newId(), response: { status: "error", reason: "no" } });
      }
      const { storage: counted, rowsRead } = watched(storage);
      const restarted = createSqlEventStore(counted);
      const before = rowsRead();
      expect(await restarted.version("acc")).toBe(1_999);
      expect(await restarted.findAnswer("acc", newId())).toBeUndefined();
      expect(await restarted.lastPosition()).toBe(2_000);
      // 2,000 events and 20 answer rows: a scan would read them all.
      expect(rowsRead() - before).toBeLessThan(20);
    });
  });

  it("a long append that fails midway writes nothing; positions and versions stay gapless", async () => {
    await inObject(async (storage) => {
      const { storage: faulty, failInserts } = watched(storage);
      const store = createSqlEventStore(faulty);
      await store.append("s", [{ type: "A" }]);
      const events = Array.from({ length: 70 }, (_, n) => ({ type: "N", n }));
      failInserts((_query, index) => index === 1); // the second of its three statements
      await expect(store.append("s", events, { expectedVersion: 0 })).rejects.toThrow("disk full");
      expect(await store.version("s")).toBe(0);
      expect(await store.lastPosition()).toBe(1);
      expect((await createSqlEventStore(storage).readAll()).length).toBe(1);
      failInserts((_query, index) => index === 0); // a one-statement append
      await expect(store.append("s", [{ type: "B" }], { expectedVersion: 0 })).rejects.toThrow("disk full");
      failInserts(undefined);
      const appended = await store.append("s", events, { expectedVersion: 0 });
      expect(appended).toEqual({ ok: true, version: 70, firstPosition: 2, lastPosition: 71 });
      const log = await createSqlEventStore(storage).readAll({ limit: 100 });
      expect(log.map((event) => event.position)).toEqual(Array.from({ length: 71 }, (_, i) => i + 1));
      expect(log.map((event) => event.version)).toEqual(Array.from({ length: 71 }, (_, i) => i));
    });
  });

  it("a second store writing the same storage makes an append fail, not overwrite; the next one re-reads and lands", async () => {
    await inObject(async (storage) => {
      const first = createSqlEventStore(storage);
      await first.append("s", [{ type: "A" }]);
      await createSqlEventStore(storage).append("s", [{ type: "B" }], { expectedVersion: 0 });
      await expect(first.append("s", [{ type: "C" }], { expectedVersion: 0 })).rejects.toThrow();
      const retried = await first.append("s", [{ type: "C" }], { expectedVersion: 0 });
      expect(retried.ok ? "ok" : retried.error.actual).toBe(1); // the other store's event is seen
      expect(await first.append("s", [{ type: "C" }], { expectedVersion: 1 })).toEqual({
        ok: true,
        version: 2,
        firstPosition: 3,
        lastPosition: 3,
      });
      expect((await first.read("s")).map((event) => event.type)).toEqual(["A", "B", "C"]);
    });
  });

  it("the outbox follows the option: a store without it stops filling the outbox", async () => {
    await inObject(async (storage) => {
      const count = () => Number(storage.sql.exec("SELECT COUNT(*) AS n FROM x3m_outbox").one().n);
      await createSqlEventStore(storage, { outbox: true }).append("s", [{ type: "A" }, { type: "B" }]);
      expect(storage.sql.exec("SELECT position FROM x3m_outbox ORDER BY position").toArray()).toEqual([
        { position: 1 },
        { position: 2 },
      ]);
      await createSqlEventStore(storage).append("s", [{ type: "C" }]);
      expect(count()).toBe(2);
    });
  });
});

// The schema of the previous release, and rows it wrote: answers in the events' metadata or their own
// table, clients' sequences, each stream's version kept in x3m_streams, one deleted stream.
const PREVIOUS_RELEASE = `
CREATE TABLE x3m_streams (stream TEXT PRIMARY KEY, version INTEGER NOT NULL, epoch INTEGER NOT NULL);
CREATE TABLE x3m_events (
  position INTEGER PRIMARY KEY, stream TEXT NOT NULL, epoch INTEGER NOT NULL, version INTEGER NOT NULL,
  type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, recorded_at INTEGER NOT NULL,
  UNIQUE (stream, epoch, version));
CREATE TABLE x3m_outbox (position INTEGER PRIMARY KEY);
CREATE TABLE x3m_snapshots (stream TEXT NOT NULL, schema_version INTEGER NOT NULL, version INTEGER NOT NULL,
  state TEXT NOT NULL, PRIMARY KEY (stream, schema_version));
CREATE INDEX x3m_events_by_message ON x3m_events (json_extract(metadata, '$.messageId'));
CREATE TABLE x3m_answers (stream TEXT NOT NULL, message_id TEXT NOT NULL, response TEXT NOT NULL,
  PRIMARY KEY (stream, message_id)) WITHOUT ROWID;
CREATE TABLE x3m_clients (stream TEXT NOT NULL, client_id TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (stream, client_id)) WITHOUT ROWID;
INSERT INTO x3m_events VALUES
  (1, 'gone', 0, 0, 'A', '{"type":"A"}', '{}', 1),
  (2, 'acc', 0, 0, 'Opened', '{"type":"Opened"}', '{"messageId":"m-1","response":{"status":"created","id":"acc","version":0}}', 2),
  (3, 'acc', 0, 1, 'Deposited', '{"type":"Deposited"}', '{"messageId":"m-2","response":{"status":"ok","version":1}}', 3);
INSERT INTO x3m_streams VALUES ('gone', -1, 1), ('acc', 1, 0);
INSERT INTO x3m_answers VALUES ('acc', 'm-3', '{"status":"error","reason":"insufficient_funds"}');
INSERT INTO x3m_clients VALUES ('acc', 'client-a', 2);`;

describe("SQL event store: a database written by the previous release", () => {
  it("opens with its versions, positions, answers and sequences, and carries on from them", async () => {
    await inObject(async (storage) => {
      storage.sql.exec(PREVIOUS_RELEASE);
      const store = createSqlEventStore(storage);
      expect(await store.version("acc")).toBe(1);
      expect(await store.version("gone")).toBe(-1);
      expect(await store.read("gone")).toEqual([]);
      expect(await store.lastPosition()).toBe(3);
      expect(await store.findAnswer("acc", "m-1")).toEqual({ status: "created", id: "acc", version: 0 });
      expect(await store.findAnswer("acc", "m-3")).toEqual({ status: "error", reason: "insufficient_funds" });
      expect(await store.clientSequence("acc", "client-a")).toBe(2);

      const client = { clientId: "client-a", seq: 3 };
      const appended = await store.append("acc", [{ type: "Deposited" }], {
        expectedVersion: 1,
        answer: { messageId: "m-4", response: { status: "ok", version: 2 }, client },
      });
      expect(appended).toEqual({ ok: true, version: 2, firstPosition: 4, lastPosition: 4 });
      const again = await store.append("gone", [{ type: "B" }], { expectedVersion: "no_stream" });
      expect(again).toEqual({ ok: true, version: 0, firstPosition: 5, lastPosition: 5 });

      const reopened = createSqlEventStore(storage);
      expect(await reopened.clientSequence("acc", "client-a")).toBe(3);
      expect(await reopened.findAnswer("acc", "m-4")).toEqual({ status: "ok", version: 2 });
      expect((await reopened.read("gone")).map((event) => [event.version, event.position])).toEqual([[0, 5]]);
      expect(await reopened.version("acc")).toBe(2);
    });
  });
});
