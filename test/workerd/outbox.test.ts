// The transactional outbox: committed events leave each aggregate object at least once and in order, and
// the aggregate type's stream object puts them in one gapless global order a projector can follow.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  aggregateServices,
  createOutboxRelay,
  createSqlEventStore,
  remoteEventSource,
} from "../../adapters/durable-objects/index.ts";
import {
  type Clock,
  createMemoryCheckpointStore,
  defineProjector,
  Message,
  type RecordedEvent,
} from "../../src/index.ts";
import { account } from "../fixtures/account.ts";

const accounts = aggregateServices(env.RELAYED_ACCOUNTS, account);
const stream = () => env.ACCOUNT_EVENTS.get(env.ACCOUNT_EVENTS.idFromName("account"));
const readAll = async () => (await stream().readAll({ limit: 1_000 })) as unknown as RecordedEvent[];
const flush = (id: string) => runDurableObjectAlarm(env.RELAYED_ACCOUNTS.get(env.RELAYED_ACCOUNTS.idFromName(id)));

describe("outbox relay to the event stream object", () => {
  it("relays every committed event once, in each aggregate's order, into one gapless global order", async () => {
    const ids = [1, 2, 3].map((n) => `acc-${n}-${crypto.randomUUID()}`);
    for (const id of ids) {
      await accounts.onNew("open")(Message.new("open", { rawRequest: { id, owner: "ada" } }));
      for (let i = 0; i < 3; i++)
        await accounts.on("deposit")(Message.new("deposit", { rawRequest: { id, amount: 1 } }));
    }
    for (const id of ids) {
      await flush(id);
      await flush(id); // a second relay of the same object adds nothing
    }
    const events = (await readAll()).filter((event) => ids.some((id) => event.stream.endsWith(id)));
    expect(events).toHaveLength(12);
    const all = await readAll();
    expect(all.map((event) => event.position)).toEqual(all.map((_, i) => i + 1));
    for (const id of ids) {
      expect(events.filter((event) => event.stream === `account-${id}`).map((event) => event.version)).toEqual([
        0, 1, 2, 3,
      ]);
    }
    expect(await stream().ingest(events)).toBe(0); // re-delivered: nothing new
  });

  it("a projector on the edge follows the stream object through remoteEventSource", async () => {
    const id = `acc-${crypto.randomUUID()}`;
    await accounts.onNew("open")(Message.new("open", { rawRequest: { id, owner: "ada" } }));
    await accounts.on("deposit")(Message.new("deposit", { rawRequest: { id, amount: 9 } }));
    await flush(id);
    const balances = new Map<string, number>();
    const projector = defineProjector({
      name: "balances",
      source: remoteEventSource(stream()),
      checkpoints: createMemoryCheckpointStore(),
      handles: ["Deposited"],
      handle: (event) => {
        balances.set(event.stream, (balances.get(event.stream) ?? 0) + (event.data as { amount: number }).amount);
      },
      dependentHydration: true,
    });
    await projector.start();
    expect(balances.get(`account-${id}`)).toBe(9);
    expect(projector.position()).toBe(await stream().lastPosition());
    projector.stop();
  });

  it("a failed send is retried with backoff; the outbox empties only after an acknowledgement", async () => {
    const probe = env.PROBE.get(env.PROBE.idFromName(`outbox-${crypto.randomUUID()}`));
    await runInDurableObject(probe, async (_instance, state) => {
      const store = createSqlEventStore(state.storage, { outbox: true });
      await store.append("s", [{ type: "A" }, { type: "B" }]);
      const timers: Array<() => void> = [];
      const clock: Clock = {
        now: () => 0,
        setTimeout: (callback) => {
          timers.push(callback);
          return () => {};
        },
      };
      const received: number[] = [];
      let failures = 2;
      const relay = createOutboxRelay({
        storage: state.storage,
        clock,
        target: {
          ingest: async (events) => {
            if (failures-- > 0) throw new Error("stream object unavailable");
            received.push(...events.map((event) => event.position));
          },
        },
      });
      await relay.flush();
      expect(timers).toHaveLength(1); // a retry is scheduled
      timers.shift()?.();
      await relay.flush();
      timers.shift()?.();
      await relay.flush();
      expect(received).toEqual([1, 2]);
      const left = state.storage.sql.exec("SELECT COUNT(*) AS n FROM x3m_outbox").toArray()[0] as { n: number };
      expect(left.n).toBe(0);
    });
  });

  it("kick() arms nothing while the outbox is empty, and relays once something is pending", async () => {
    const probe = env.PROBE.get(env.PROBE.idFromName(`outbox-kick-${crypto.randomUUID()}`));
    await runInDurableObject(probe, async (_instance, state) => {
      const store = createSqlEventStore(state.storage, { outbox: true });
      let timers = 0;
      const clock: Clock = {
        now: () => 0,
        setTimeout: () => {
          timers++;
          return () => {};
        },
      };
      const relay = createOutboxRelay({ storage: state.storage, clock, target: { ingest: async () => {} } });
      relay.kick();
      expect(timers).toBe(0);
      await store.append("s", [{ type: "A" }]);
      relay.kick();
      expect(timers).toBe(1);
    });
  });
});
