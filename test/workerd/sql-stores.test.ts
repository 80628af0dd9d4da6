// The core store contracts, run inside real SQLite-backed Durable Objects (one fresh object per case).
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, it } from "vitest";
import { createSqlAlarmStore } from "../../adapters/durable-objects/sql-alarm-store.ts";
import { createSqlEventStore } from "../../adapters/durable-objects/sql-event-store.ts";
import { alarmStoreContract, type ContractCase, eventStoreContract } from "../../src/testing/index.ts";

/** Registers each case of a contract so that it runs inside its own object, against that object's storage. */
function insideObjects(prefix: string, contract: (storage: DurableObjectStorage) => ContractCase[]) {
  const names = contract(undefined as never).map((c) => c.name);
  for (const name of names) {
    it(name, async () => {
      const stub = env.PROBE.get(env.PROBE.idFromName(`${prefix}:${name}`));
      await runInDurableObject(stub, async (_instance, state) => {
        const found = contract(state.storage).find((c) => c.name === name);
        if (!found) throw new Error(`no case ${name}`);
        await found.run();
      });
    });
  }
}

describe("event store contract: Durable Object SQLite", () => {
  insideObjects("events", (storage) => eventStoreContract(() => createSqlEventStore(storage)));
});

describe("alarm store contract: Durable Object SQLite", () => {
  insideObjects("alarms", (storage) => alarmStoreContract(() => createSqlAlarmStore(storage)));
});
