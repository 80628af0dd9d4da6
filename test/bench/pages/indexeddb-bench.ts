// Browser side of the IndexedDB benchmark (./indexeddb.ts): bundled with esbuild, run in each headless browser.
import { deleteDB, type IDBPDatabase, openDB } from "idb";
import { openIndexedDbEventStore } from "../../../adapters/indexeddb/index.ts";
import { type Case, measureAll } from "../measure.ts";

/** Events per command: every case writes this many per call. */
const EVENTS = 10;

/** A deposit as the aggregate host would append it, and the same as a raw row (with the store's fields). */
const event = (n: number) => ({ type: "Deposited", amount: 1, note: `deposit ${n}` });
const metadata = { messageId: "0190a6e4-7c1a-7cc2-9b1e-5a8f0e6d1c2b", correlationId: "c-1", causationId: "c-1" };
const row = (position: number) => ({
  position,
  stream: "raw-1",
  epoch: 0,
  version: position - 1,
  type: "Deposited",
  data: event(position),
  metadata,
  recordedAt: Date.now(),
});

async function rawDatabase(name: string): Promise<IDBPDatabase> {
  return openDB(name, 1, { upgrade: (db) => void db.createObjectStore("events", { keyPath: "position" }) });
}

const scenarios = {
  async measure() {
    const names = { store: `bench-store-${Date.now()}`, raw: `bench-raw-${Date.now()}` };
    const store = await openIndexedDbEventStore({ name: names.store });
    const raw = await rawDatabase(names.raw);
    let position = 0;
    let stream = 0;
    const events = Array.from({ length: EVENTS }, (_, i) => event(i));

    const cases: Case[] = [
      {
        name: `baseline: raw idb, ${EVENTS} puts in one transaction`,
        iterations: 200,
        async loop(n) {
          for (let i = 0; i < n; i++) {
            const tx = raw.transaction("events", "readwrite");
            const puts = Array.from({ length: EVENTS }, () => tx.store.put(row(++position)));
            await Promise.all([...puts, tx.done]);
          }
        },
      },
      {
        name: `x3m: \`store.append\` of ${EVENTS} events (one command)`,
        iterations: 200,
        setup: () => void stream++,
        async loop(n) {
          let last: unknown;
          for (let i = 0; i < n; i++) last = await store.append(`acc-${stream}`, events, { metadata });
          return last;
        },
      },
      {
        name: `raw idb, one transaction per event (${EVENTS} per call)`,
        iterations: 40,
        async loop(n) {
          for (let i = 0; i < n; i++) {
            for (let k = 0; k < EVENTS; k++) {
              const tx = raw.transaction("events", "readwrite");
              await Promise.all([tx.store.put(row(++position)), tx.done]);
            }
          }
        },
      },
      {
        name: `x3m: ${EVENTS} \`store.append\`s of one event (${EVENTS} per call)`,
        iterations: 40,
        setup: () => void stream++,
        async loop(n) {
          for (let i = 0; i < n; i++) {
            for (const one of events) await store.append(`acc-${stream}`, [one], { metadata });
          }
        },
      },
    ];
    const check = await store.append("check", events, { expectedVersion: "no_stream", metadata });
    if (!check.ok || check.version !== EVENTS - 1) throw new Error(`append check failed: ${JSON.stringify(check)}`);
    const results = await measureAll(cases);
    const stored = await store.lastPosition();
    store.close();
    raw.close();
    await Promise.all([deleteDB(names.store), deleteDB(names.raw)]);
    return { results, iterations: cases.map((c) => c.iterations), stored, userAgent: navigator.userAgent };
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
