// The Durable Object checkpoint store: the core contract (resetMany included) inside real SQLite-backed
// objects, and the read-model writes committed or rolled back together with the checkpoint.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createSqlCheckpointStore } from "../../adapters/durable-objects/index.ts";
import { checkpointStoreContract } from "../../src/testing/index.ts";

const probe = (name: string) => env.PROBE.get(env.PROBE.idFromName(`checkpoints:${name}:${crypto.randomUUID()}`));

describe("checkpoint store contract: Durable Object SQLite", () => {
  const contract = (storage: DurableObjectStorage) =>
    checkpointStoreContract(() => createSqlCheckpointStore(storage), { resetMany: true });
  for (const { name } of contract(undefined as never)) {
    it(name, async () => {
      await runInDurableObject(probe(name), async (_instance, state) => {
        const found = contract(state.storage).find((c) => c.name === name);
        if (!found) throw new Error(`no case ${name}`);
        await found.run();
      });
    });
  }
});

describe("createSqlCheckpointStore", () => {
  const count = (sql: SqlStorage) => sql.exec("SELECT COUNT(*) AS n FROM model").toArray()[0]?.n;

  it("commits apply's rows with the checkpoint, and rolls them back with it when apply fails after an await", async () => {
    await runInDurableObject(probe("atomic"), async (_instance, state) => {
      state.storage.sql.exec("CREATE TABLE model (id INTEGER)");
      const store = createSqlCheckpointStore(state.storage);
      await store.commit("p", { expected: 0, next: 1 }, (sql) => void sql.exec("INSERT INTO model VALUES (1)"));
      await expect(
        store.commit("p", { expected: 1, next: 2 }, async (sql) => {
          sql.exec("INSERT INTO model VALUES (2)");
          await new Promise((resolve) => setTimeout(resolve, 1));
          sql.exec("INSERT INTO model VALUES (3)");
          throw new Error("read model refused");
        }),
      ).rejects.toThrow("read model refused");
      expect([await store.load("p"), count(state.storage.sql)]).toEqual([1, 1]);
      await expect(
        store.resetMany(["p", "q"], (sql) => {
          sql.exec("DELETE FROM model");
          throw new Error("truncate refused");
        }),
      ).rejects.toThrow("truncate refused");
      expect([await store.load("p"), count(state.storage.sql)]).toEqual([1, 1]);
      await store.resetMany(["p", "q"], (sql) => void sql.exec("DELETE FROM model"));
      expect([await store.load("p"), count(state.storage.sql)]).toEqual([0, 0]);
    });
  });

  it("keeps checkpoints across an eviction", async () => {
    const stub = probe("eviction");
    await runInDurableObject(stub, async (_instance, state) => {
      await createSqlCheckpointStore(state.storage).commit("p", { expected: 0, next: 7 }, () => {});
    });
    await evictDurableObject(stub);
    await runInDurableObject(stub, async (_instance, state) => {
      expect(await createSqlCheckpointStore(state.storage).load("p")).toBe(7);
    });
  });
});
