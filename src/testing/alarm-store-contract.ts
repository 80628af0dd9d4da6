import { Message } from "../message.ts";
import { Response } from "../response.ts";
import type { Alarm, AlarmStore, DeadLetter } from "../scheduler/alarm-store.ts";
import type { ContractCase } from "./transport-contract.ts";

const T = 1_767_225_600_000;

function fail(message: string): never {
  throw new Error(`alarm store contract: ${message}`);
}

/** JSON with sorted keys: equal for deep-equal JSON values whatever order a store gives keys back in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function equal(actual: unknown, expected: unknown, what: string): void {
  const a = canonical(actual);
  const e = canonical(expected);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

function alarm(id: string, dispatchAt: number, extra: Partial<Alarm> = {}): Alarm {
  const message = Message.new("contract_service", { id, rawRequest: { id, note: "ünïcødé ✓", nested: { n: [1, 2] } } })
    .assign("dispatchAt", dispatchAt)
    .assign("dispatchAttempts", 0);
  return { id, message: message.toJSON(), dispatchAt, scheduledFor: dispatchAt, attempts: 0, ...extra };
}

const ids = (alarms: readonly Alarm[]): string[] => alarms.map((a) => a.id);

/**
 * The behaviour every `AlarmStore` must have, as framework-agnostic cases (each makes a fresh store).
 * The memory and Durable Objects (SQLite) stores pass it.
 *
 * @example
 * import { alarmStoreContract } from "x3m-system/testing";
 * for (const c of alarmStoreContract(() => createMemoryAlarmStore())) it(c.name, () => c.run());
 */
export function alarmStoreContract(makeStore: () => AlarmStore | Promise<AlarmStore>): ContractCase[] {
  const withStore = (body: (store: AlarmStore) => Promise<void>) => async () => body(await makeStore());
  return [
    {
      name: "an empty store holds no alarms and no dead letters",
      run: withStore(async (store) => {
        equal(await store.count(), 0, "count");
        equal(await store.get("nope"), undefined, "get");
        equal(await store.loadDue(Number.MAX_SAFE_INTEGER), [], "loadDue");
        equal(await store.listDeadLetters(), [], "listDeadLetters");
        equal(await store.delete("nope"), false, "delete");
        equal(await store.deleteDeadLetter("nope"), false, "deleteDeadLetter");
      }),
    },
    {
      name: "what is saved is what get returns (deep-equal JSON), and neither copy aliases the stored one",
      run: withStore(async (store) => {
        const full = alarm("full", T + 5, {
          attempts: 3,
          scheduledFor: T,
          aggregateId: "acc-1",
          everyMs: 60_000,
          pinned: { principal: { user: "ada", roles: ["admin"] }, tenant: "t-1" },
        });
        const plain = alarm("plain", T + 7);
        await store.save(full);
        await store.save(plain);
        equal(await store.get("full"), full, "alarm with every optional field");
        equal(await store.get("plain"), plain, "alarm without optional fields");
        const returned = await store.get("plain");
        if (!returned) fail("get returned nothing");
        (returned.message.rawRequest as { note: string }).note = "changed";
        (plain.message.rawRequest as { note: string }).note = "changed too";
        equal((await store.get("plain"))?.message.rawRequest.note, "ünïcødé ✓", "stored copy after mutations");
      }),
    },
    {
      name: "saving an id again replaces the alarm",
      run: withStore(async (store) => {
        await store.save(alarm("a", T + 100));
        const replacement = alarm("a", T + 900, { attempts: 2 });
        await store.save(replacement);
        equal(await store.count(), 1, "count");
        equal(await store.get("a"), replacement, "get");
        equal(ids(await store.loadDue(T + 500)), [], "loadDue before the new time");
        equal(await store.loadDue(T + 1_000), [replacement], "loadDue after the new time");
      }),
    },
    {
      name: "delete removes one alarm and resolves whether it existed",
      run: withStore(async (store) => {
        await store.save(alarm("a", T));
        await store.save(alarm("b", T));
        equal(await store.delete("a"), true, "first delete");
        equal(await store.delete("a"), false, "second delete");
        equal(await store.get("a"), undefined, "get after delete");
        equal(ids(await store.loadDue(T + 1)), ["b"], "loadDue after delete");
        equal(await store.count(), 1, "count");
      }),
    },
    {
      name: "loadDue returns every alarm due strictly before until, overdue included, by dispatchAt then id",
      run: withStore(async (store) => {
        for (const [id, at] of [
          ["f", T + 3_000],
          ["b", T + 1_000],
          ["e", T + 2_000],
          ["old", T - 86_400_000],
          ["c", T + 1_000],
          ["a", T + 1_000],
          ["d", T + 500],
        ] as const) {
          await store.save(alarm(id, at));
        }
        equal(ids(await store.loadDue(T + 2_000)), ["old", "d", "a", "b", "c"], "until excludes dispatchAt = until");
        equal(ids(await store.loadDue(T + 2_001)), ["old", "d", "a", "b", "c", "e"], "until just after");
        equal(ids(await store.loadDue(T - 86_400_000)), [], "nothing before the oldest");
        equal(await store.count(), 7, "loadDue removes nothing");
      }),
    },
    {
      name: "loadDue with a limit returns the first `limit` alarms of that order, ties broken by id",
      run: withStore(async (store) => {
        for (const [id, at] of [
          ["late-b", T - 5_000],
          ["late-a", T - 5_000],
          ["t-c", T],
          ["t-a", T],
          ["t-b", T],
          ["next", T + 10],
          ["outside", T + 1_000],
        ] as const) {
          await store.save(alarm(id, at));
        }
        equal(ids(await store.loadDue(T + 1_000, 1)), ["late-a"], "limit 1");
        equal(ids(await store.loadDue(T + 1_000, 3)), ["late-a", "late-b", "t-a"], "a page ending inside a tie");
        equal(ids(await store.loadDue(T + 1_000, 4)), ["late-a", "late-b", "t-a", "t-b"], "the next page size");
        equal(
          ids(await store.loadDue(T + 1_000, 100)),
          ["late-a", "late-b", "t-a", "t-b", "t-c", "next"],
          "limit beyond",
        );
        equal(ids(await store.loadDue(T + 1, 4)), ["late-a", "late-b", "t-a", "t-b"], "until still applies");
        equal(
          (await store.loadDue(T + 1_000, 2)).map((a) => a.message.rawRequest.note),
          ["ünïcødé ✓", "ünïcødé ✓"],
          "whole alarms",
        );
        await store.delete("late-a");
        await store.save(alarm("t-b", T + 20));
        equal(ids(await store.loadDue(T + 1_000, 3)), ["late-b", "t-a", "t-c"], "after a delete and a move");
      }),
    },
    {
      name: "count counts alarms only",
      run: withStore(async (store) => {
        for (let i = 0; i < 25; i++) await store.save(alarm(`a-${i}`, T + i));
        equal(await store.count(), 25, "after 25 saves");
        await store.moveToDeadLetters({ alarm: alarm("a-0", T), reason: Response.notFound(), failedAt: T });
        equal(await store.count(), 24, "after a dead letter");
      }),
    },
    {
      name: "moveToDeadLetters removes the alarm and records the dead letter in one step",
      run: withStore(async (store) => {
        await store.save(alarm("a", T));
        await store.save(alarm("b", T + 1));
        const letter: DeadLetter = {
          alarm: alarm("a", T + 40_000, { attempts: 5, scheduledFor: T }),
          reason: Response.error({ exception: { name: "Error", message: "down" } }),
          failedAt: T + 40_001,
        };
        await store.moveToDeadLetters(letter);
        equal(await store.get("a"), undefined, "alarm after the move");
        equal(ids(await store.loadDue(T + 100_000)), ["b"], "loadDue after the move");
        equal(await store.listDeadLetters(), [letter], "dead letters (the given record, not the stored alarm)");
      }),
    },
    {
      name: "dead letters are listed by failedAt then id, replaced per id, and deleted one by one",
      run: withStore(async (store) => {
        const letter = (id: string, failedAt: number): DeadLetter => ({
          alarm: alarm(id, T),
          reason: Response.serviceUnavailable("contract_service"),
          failedAt,
        });
        await store.moveToDeadLetters(letter("z", T + 1));
        await store.moveToDeadLetters(letter("y", T + 2));
        await store.moveToDeadLetters(letter("x", T + 2));
        equal(
          (await store.listDeadLetters()).map((l) => l.alarm.id),
          ["z", "x", "y"],
          "order",
        );
        await store.moveToDeadLetters(letter("z", T + 3));
        equal(
          (await store.listDeadLetters()).map((l) => [l.alarm.id, l.failedAt]),
          [
            ["x", T + 2],
            ["y", T + 2],
            ["z", T + 3],
          ],
          "after replacing z",
        );
        await store.save(alarm("x", T + 9));
        equal(await store.deleteDeadLetter("x"), true, "first deleteDeadLetter");
        equal(await store.deleteDeadLetter("x"), false, "second deleteDeadLetter");
        equal(ids(await store.loadDue(T + 10)), ["x"], "an alarm sharing the id is left alone");
        equal(
          (await store.listDeadLetters()).map((l) => l.alarm.id),
          ["y", "z"],
          "remaining dead letters",
        );
      }),
    },
  ];
}
