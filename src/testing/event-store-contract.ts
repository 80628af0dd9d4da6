import type { EventStore, RecordedEvent } from "../event-store/event-store.ts";
import { seededRandom } from "./seeded-random.ts";
import type { ContractCase } from "./transport-contract.ts";

function fail(message: string): never {
  throw new Error(`event store contract: ${message}`);
}

function equal(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

async function readWholeStream(store: EventStore, stream: string, pageSize: number): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for (;;) {
    const page = await store.read(stream, { from: all.length, limit: pageSize });
    all.push(...page);
    if (page.length < pageSize) return all;
  }
}

async function readWholeLog(store: EventStore, pageSize: number): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after: all.at(-1)?.position ?? 0, limit: pageSize });
    all.push(...page);
    if (page.length < pageSize) return all;
  }
}

/**
 * The behaviour every `EventStore` must have, as framework-agnostic cases (each makes a fresh store).
 *
 * @example
 * import { eventStoreContract } from "x3m-system/testing";
 * for (const c of eventStoreContract(() => createMemoryEventStore())) it(c.name, () => c.run());
 */
export function eventStoreContract(makeStore: () => EventStore | Promise<EventStore>): ContractCase[] {
  const withStore = (body: (store: EventStore) => Promise<void>) => async () => body(await makeStore());
  return [
    {
      name: "an empty store has no streams, version -1 and position 0",
      run: withStore(async (store) => {
        equal(await store.has("s"), false, "has");
        equal(await store.version("s"), -1, "version");
        equal(await store.read("s"), [], "read");
        equal(await store.readAll(), [], "readAll");
        equal(await store.lastPosition(), 0, "lastPosition");
      }),
    },
    {
      name: "append numbers versions from 0 and positions from 1, keeps order, type and metadata",
      run: withStore(async (store) => {
        const result = await store.append(
          "acc-1",
          [{ type: "Opened", owner: "ada" }, { type: "Deposited", amount: 5 }, 42],
          {
            expectedVersion: "no_stream",
            metadata: { messageId: "m-1" },
          },
        );
        equal(result, { ok: true, version: 2, firstPosition: 1, lastPosition: 3 }, "append result");
        const events = await store.read("acc-1");
        equal(
          events.map((e) => [e.stream, e.version, e.position, e.type]),
          [
            ["acc-1", 0, 1, "Opened"],
            ["acc-1", 1, 2, "Deposited"],
            ["acc-1", 2, 3, "unknown"],
          ],
          "recorded events",
        );
        equal(
          events.map((e) => e.data),
          [{ type: "Opened", owner: "ada" }, { type: "Deposited", amount: 5 }, 42],
          "data",
        );
        for (const event of events) {
          equal(event.metadata.messageId, "m-1", "metadata.messageId");
          if (typeof event.recordedAt !== "number") fail("recordedAt is not a number");
        }
        equal(await store.version("acc-1"), 2, "version");
        equal(await store.has("acc-1"), true, "has");
      }),
    },
    {
      name: "every expected-version variant is enforced and a conflict carries the actual version",
      run: withStore(async (store) => {
        await store.append("s", [{ type: "A" }], { expectedVersion: "no_stream" });
        const cases: Array<[Parameters<EventStore["append"]>[2], boolean]> = [
          [{ expectedVersion: "no_stream" }, false],
          [{ expectedVersion: -1 }, false],
          [{ expectedVersion: 1 }, false],
          [{ expectedVersion: 0 }, true],
          [{ expectedVersion: "stream_exists" }, true],
          [{ expectedVersion: "any" }, true],
          [{}, true],
        ];
        for (const [options, accepted] of cases) {
          const before = await store.version("s");
          const result = await store.append("s", [{ type: "B" }], options);
          if (result.ok !== accepted) fail(`${JSON.stringify(options)} on version ${before}: ok=${result.ok}`);
          if (!result.ok) {
            equal(
              result.error,
              { code: "wrong_expected_version", stream: "s", expected: options?.expectedVersion, actual: before },
              "conflict",
            );
          }
        }
        const missing = await store.append("missing", [{ type: "A" }], { expectedVersion: "stream_exists" });
        equal(missing.ok ? "ok" : missing.error.actual, -1, "stream_exists on a missing stream");
        equal(await store.version("s"), 4, "only accepted appends were written");
        equal(await store.lastPosition(), 5, "positions consumed only by accepted appends");
      }),
    },
    {
      name: "an append of no events succeeds without consuming a version or a position",
      run: withStore(async (store) => {
        await store.append("s", [{ type: "A" }]);
        const result = await store.append("s", [], { expectedVersion: 0 });
        equal(result.ok && result.version, 0, "version after an empty append");
        equal(await store.lastPosition(), 1, "lastPosition");
      }),
    },
    {
      name: "reads page through a large stream and the global log in order",
      run: withStore(async (store) => {
        for (let batch = 0; batch < 25; batch++) {
          const events = Array.from({ length: 100 }, (_, i) => ({ type: "N", n: batch * 100 + i }));
          await store.append("big", events, { expectedVersion: batch * 100 - 1 });
          await store.append(`other-${batch % 3}`, [{ type: "O", batch }]);
        }
        const stream = await readWholeStream(store, "big", 333);
        equal(stream.length, 2_500, "stream length");
        stream.forEach((event, i) => {
          if (event.version !== i || (event.data as { n: number }).n !== i) fail(`stream event ${i} out of order`);
        });
        const log = await readWholeLog(store, 257);
        equal(log.length, 2_525, "log length");
        log.forEach((event, i) => {
          if (event.position !== i + 1) fail(`global position ${event.position} at index ${i}: not gapless`);
        });
        equal(
          (await store.read("big", { from: 2_499, limit: 10 })).map((e) => e.version),
          [2_499],
          "last page",
        );
        equal(await store.read("big", { from: 5_000 }), [], "read past the end");
      }),
    },
    {
      name: "concurrent appends with the same expected version have exactly one winner",
      run: withStore(async (store) => {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.append("race", [{ type: "W", writer: i }], { expectedVersion: "no_stream" }),
          ),
        );
        const winners = results.filter((r) => r.ok);
        equal(winners.length, 1, "winners");
        for (const result of results) {
          if (!result.ok) equal(result.error.actual, 0, "the losers see the winner's version");
        }
        equal((await store.read("race")).length, 1, "stream length");
      }),
    },
    {
      name: "random interleavings of writers keep versions contiguous, lose nothing and report every conflict",
      run: withStore(async (store) => {
        const random = seededRandom(20_261_122);
        const streams = ["a", "b", "c"];
        let accepted = 0;
        for (let round = 0; round < 40; round++) {
          const writers = Array.from({ length: 1 + Math.floor(random() * 5) }, () => {
            const stream = streams[Math.floor(random() * streams.length)] as string;
            const size = Math.floor(random() * 4);
            return { stream, size, staleBy: random() < 0.3 ? 1 : 0 };
          });
          const versions = await Promise.all(writers.map((w) => store.version(w.stream)));
          const results = await Promise.all(
            writers.map((w, i) =>
              store.append(
                w.stream,
                Array.from({ length: w.size }, (_, k) => ({ type: "E", round, k })),
                {
                  expectedVersion: (versions[i] as number) - w.staleBy,
                },
              ),
            ),
          );
          for (const [i, result] of results.entries()) {
            const writer = writers[i] as { size: number };
            if (result.ok) accepted += writer.size;
            else if (result.error.actual === (versions[i] as number) - (writers[i]?.staleBy ?? 0) && writer.size > 0) {
              fail("a conflict reported an actual version equal to the expected one");
            }
          }
        }
        let stored = 0;
        for (const stream of streams) {
          const events = await readWholeStream(store, stream, 100);
          events.forEach((event, i) => {
            if (event.version !== i) fail(`${stream}: version ${event.version} at index ${i}`);
          });
          stored += events.length;
        }
        equal(stored, accepted, "events stored = events of accepted appends");
        equal(await store.lastPosition(), accepted, "lastPosition");
      }),
    },
    {
      name: "deleteStream hides the stream and its snapshots, keeps the global log, and checks the expected version",
      run: withStore(async (store) => {
        await store.append("s", [{ type: "A" }, { type: "B" }]);
        await store.saveSnapshot("s", { version: 1, schemaVersion: 1, state: { n: 2 } });
        const refused = await store.deleteStream("s", { expectedVersion: 0 });
        equal(refused.ok ? "ok" : refused.error.actual, 1, "refused delete");
        equal((await store.deleteStream("s", { expectedVersion: 1 })).ok, true, "delete");
        equal(await store.has("s"), false, "has after delete");
        equal(await store.version("s"), -1, "version after delete");
        equal(await store.read("s"), [], "read after delete");
        equal(await store.loadSnapshot("s", { schemaVersion: 1 }), undefined, "snapshot after delete");
        equal((await store.readAll()).length, 2, "global log keeps the events");
        const again = await store.append("s", [{ type: "C" }], { expectedVersion: "no_stream" });
        equal(again.ok && [again.version, again.firstPosition], [0, 3], "re-created stream");
      }),
    },
    {
      name: "snapshots: the latest of the requested schema version wins; other schemas are ignored",
      run: withStore(async (store) => {
        equal(await store.loadSnapshot("s", { schemaVersion: 1 }), undefined, "no snapshot");
        await store.saveSnapshot("s", { version: 9, schemaVersion: 1, state: { n: 9 } });
        await store.saveSnapshot("s", { version: 19, schemaVersion: 1, state: { n: 19 } });
        await store.saveSnapshot("s", { version: 29, schemaVersion: 2, state: { m: 29 } });
        equal(
          await store.loadSnapshot("s", { schemaVersion: 1 }),
          { version: 19, schemaVersion: 1, state: { n: 19 } },
          "v1",
        );
        equal(
          await store.loadSnapshot("s", { schemaVersion: 2 }),
          { version: 29, schemaVersion: 2, state: { m: 29 } },
          "v2",
        );
        equal(await store.loadSnapshot("s", { schemaVersion: 3 }), undefined, "unknown schema");
      }),
    },
    {
      name: "what comes back is a copy: changing it does not change the store",
      run: withStore(async (store) => {
        const event = { type: "A", nested: { list: [1, 2] } };
        await store.append("s", [event]);
        event.nested.list.push(3);
        const [read] = await store.read("s");
        if (!read) fail("the event was not stored");
        equal(read.data, { type: "A", nested: { list: [1, 2] } }, "stored data");
        (read.data as { nested: { list: number[] } }).nested.list.push(4);
        equal((await store.read("s"))[0]?.data, { type: "A", nested: { list: [1, 2] } }, "re-read data");
      }),
    },
    {
      name: "answers: an append's answer and a recorded refusal are found by message id, per stream",
      run: withStore(async (store) => {
        equal(await store.findAnswer("acc-1", "m-1"), undefined, "nothing recorded yet");
        const created = { status: "created", id: "acc-1", version: 0 } as const;
        await store.append("acc-1", [{ type: "Opened" }], {
          expectedVersion: "no_stream",
          metadata: { correlationId: "c-1" },
          answer: { messageId: "m-1", response: created },
        });
        const [event] = await store.read("acc-1");
        equal(event?.metadata, { correlationId: "c-1", messageId: "m-1", response: created }, "metadata");
        const refused = { status: "validation_error", issues: [{ message: "too much", path: ["amount"] }] } as const;
        await store.recordAnswer("acc-1", { messageId: "m-2", response: refused });
        equal(await store.findAnswer("acc-1", "m-1"), created, "answer of the append");
        equal(await store.findAnswer("acc-1", "m-2"), refused, "recorded refusal");
        equal(await store.findAnswer("acc-2", "m-2"), undefined, "answers belong to their stream");
        equal(await store.version("acc-1"), 0, "a refusal appends nothing");
        equal(await store.lastPosition(), 1, "nor moves the log");
        await store.recordAnswer("acc-1", { messageId: "m-2", response: { status: "ok" } });
        equal(await store.findAnswer("acc-1", "m-2"), refused, "the first answer stays");
      }),
    },
    {
      name: "answers: a refused append records nothing; answers outlive many later commands",
      run: withStore(async (store) => {
        await store.append("s", [{ type: "A" }], { answer: { messageId: "first", response: { status: "ok" } } });
        const conflict = await store.append("s", [{ type: "B" }], {
          expectedVersion: 5,
          answer: { messageId: "lost", response: { status: "ok" }, client: { clientId: "c", seq: 1 } },
        });
        equal(conflict.ok, false, "the append is refused");
        equal(await store.findAnswer("s", "lost"), undefined, "no answer for a refused append");
        equal(await store.clientSequence("s", "c"), 0, "nor a sequence");
        for (let i = 0; i < 1_200; i++) {
          await store.recordAnswer("s", { messageId: `later-${i}`, response: { status: "ok", version: i } });
        }
        equal(await store.findAnswer("s", "first"), { status: "ok" }, "the first answer after 1,200 more");
        equal(await store.findAnswer("s", "later-1199"), { status: "ok", version: 1199 }, "the last one");
      }),
    },
    {
      name: "client sequences move with the answer, per stream and client",
      run: withStore(async (store) => {
        equal(await store.clientSequence("s", "client-a"), 0, "none yet");
        await store.append("s", [{ type: "A" }], {
          answer: { messageId: "m-1", response: { status: "ok" }, client: { clientId: "client-a", seq: 1 } },
        });
        await store.recordAnswer("s", {
          messageId: "m-2",
          response: { status: "error", reason: "insufficient_funds" },
          client: { clientId: "client-a", seq: 2 },
        });
        await store.recordAnswer("s", {
          messageId: "m-3",
          response: { status: "ok" },
          client: { clientId: "client-b", seq: 1 },
        });
        equal(await store.clientSequence("s", "client-a"), 2, "client a");
        equal(await store.clientSequence("s", "client-b"), 1, "client b");
        equal(await store.clientSequence("other", "client-a"), 0, "sequences belong to their stream");
        equal(await store.findAnswer("s", "m-2"), { status: "error", reason: "insufficient_funds" }, "answer");
      }),
    },
    {
      name: "subscribers (when supported) hear committed events in position order",
      run: withStore(async (store) => {
        if (!store.subscribe) return;
        const heard: number[] = [];
        const unsubscribe = store.subscribe((events) => heard.push(...events.map((e) => e.position)));
        await store.append("a", [{ type: "A" }, { type: "B" }]);
        await store.append("b", [{ type: "C" }]);
        for (let i = 0; i < 50 && heard.length < 3; i++)
          await new Promise<void>((resolve) => setTimeout(() => resolve(), 5));
        unsubscribe();
        await store.append("c", [{ type: "D" }]);
        await new Promise<void>((resolve) => setTimeout(() => resolve(), 10));
        equal(heard, [1, 2, 3], "positions heard");
      }),
    },
  ];
}
