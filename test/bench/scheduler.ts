/**
 * Scheduler benchmark: N alarms due evenly over a week (10,000 and 100,000). The baseline is the raw
 * platform way: one `setTimeout` per alarm holding its message, everything in memory, lost on restart.
 * The scheduler stores every alarm and arms only its window, at most `maxInMemory` (1,000) at once.
 *
 * Every timer here is a real `setTimeout` (the scheduler's clock is the system clock shifted to a virtual
 * start), so an armed alarm costs what it costs in production. Heap figures are after a forced GC, with
 * everything still referenced: "store + armed" is the whole scheduler with its memory store; "armed" is
 * what `stop()` gives back (timers, their alarms, the scheduler's maps).
 *
 * After a 3.5-day outage 4/7 of the alarms are due within the window (half overdue, plus the next 12 h):
 * today's behaviour armed all of them at once; paging arms 1,000 and loads the next page as they finish.
 */
import { fileURLToPath } from "node:url";
import {
  type Alarm,
  type AlarmStore,
  type Clock,
  createMemoryAlarmStore,
  createScheduler,
  Message,
  type Scheduler,
} from "../../src/index.ts";
import { fmt, markdown } from "./measure.ts";

const SIZES = [10_000, 100_000];
const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;
const OUTAGE = 3.5 * 24 * HOUR;
/** Today's behaviour, for comparison: no page limit. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/** The system clock, shifted so that it reads `start` now; its timers are real `setTimeout`s. */
function shiftedClock(start: number): Clock {
  const offset = start - Date.now();
  return {
    now: () => Date.now() + offset,
    setTimeout(callback, delayMs) {
      const handle = setTimeout(callback, delayMs);
      return () => clearTimeout(handle);
    },
  };
}

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1_048_576;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** When the i-th of n alarms is due: the first a minute after `start`, so none fires while they are scheduled. */
const dueAt = (i: number, n: number, start: number) => start + 60_000 + Math.floor((i / n) * WEEK);

const messages = (n: number, start: number) =>
  Array.from({ length: n }, (_, i) => ({
    message: Message.new("remind", { rawRequest: { n: i } }),
    at: dueAt(i, n, start),
  }));

/** How many of the week's alarms are past due at `now`. */
const overdueAt = (n: number, start: number, now: number) => {
  let count = 0;
  while (count < n && dueAt(count, n, start) < now) count++;
  return count;
};

/** Counts deliveries; answers ok at once. */
function countingDispatcher() {
  const counter = {
    delivered: 0,
    dispatch: async (message: Message) => {
      counter.delivered++;
      return message.ok();
    },
  };
  return counter;
}

interface Row {
  readonly name: string;
  readonly ms?: number;
  readonly per?: number;
  readonly held: number;
  readonly heapMb: number;
  readonly armedMb?: number;
  readonly note: string;
}

const cells = (n: number, row: Row): string[] => [
  n.toLocaleString("en-US"),
  row.name,
  row.ms === undefined ? "-" : fmt(row.ms, 0),
  row.per === undefined ? "-" : fmt(row.per, 2),
  row.held.toLocaleString("en-US"),
  fmt(row.heapMb, 1),
  row.armedMb === undefined ? "-" : fmt(row.armedMb, 1),
  row.note,
];

/** Baseline: one real timer per alarm, each holding its message. */
function baselineWeek(n: number, start: number): Row {
  const raw = messages(n, start);
  const before = heapMb();
  const began = performance.now();
  const handles = raw.map(({ message, at }) => setTimeout(() => void message, at - start));
  const ms = performance.now() - began;
  const heap = heapMb() - before;
  for (const handle of handles) clearTimeout(handle);
  return {
    name: "baseline: one setTimeout per alarm",
    ms,
    per: (ms * 1000) / n,
    held: n,
    heapMb: heap,
    note: "all in memory, lost on restart",
  };
}

/** The scheduler takes the week's alarms: all stored, the window armed. Leaves the store filled. */
async function schedulerWeek(n: number, start: number, store: AlarmStore): Promise<Row> {
  const scheduler = createScheduler({ dispatcher: countingDispatcher(), store, clock: shiftedClock(start) });
  await scheduler.start();
  const toSchedule = messages(n, start);
  const before = heapMb();
  const began = performance.now();
  for (const { message, at } of toSchedule) await scheduler.schedule(message, { at });
  const ms = performance.now() - began;
  const heap = heapMb() - before;
  const held = scheduler.inMemoryCount;
  scheduler.stop();
  const armed = heap - (heapMb() - before);
  return {
    name: "scheduler.schedule (memory store)",
    ms,
    per: (ms * 1000) / n,
    held,
    heapMb: heap,
    armedMb: armed,
    note: `${(await store.count()).toLocaleString("en-US")} stored`,
  };
}

/** Baseline after the outage: every stored alarm read back and armed again as a timer of its own. */
async function baselineRestart(store: AlarmStore, now: number): Promise<Row> {
  const before = heapMb();
  const began = performance.now();
  const alarms = await store.loadDue(Number.POSITIVE_INFINITY);
  const handles = alarms.map((alarm: Alarm) =>
    setTimeout(() => void alarm, Math.max(0, alarm.dispatchAt - now) + WEEK),
  );
  const ms = performance.now() - began;
  const heap = heapMb() - before;
  for (const handle of handles) clearTimeout(handle);
  return {
    name: "baseline restart: a setTimeout per stored alarm",
    ms,
    held: alarms.length,
    heapMb: heap,
    note: "(the store itself excluded)",
  };
}

interface Restart {
  readonly row: Row;
  /** From `start()` until every overdue alarm was delivered. */
  readonly drainMs: number;
  readonly delivered: number;
  readonly peakHeld: number;
}

/** A scheduler started 3.5 days later on the filled store: its memory after start, then the backlog drained. */
async function restart(n: number, start: number, store: AlarmStore, maxInMemory: number): Promise<Restart> {
  const now = start + OUTAGE;
  const dispatcher = countingDispatcher();
  const scheduler: Scheduler = createScheduler({ dispatcher, store, clock: shiftedClock(now), maxInMemory });
  const before = heapMb();
  const began = performance.now();
  await scheduler.start(); // only promises: no timer can fire before the heap is read
  const startMs = performance.now() - began;
  const heap = heapMb() - before;
  const measuringMs = performance.now() - began - startMs; // the forced GC: not the scheduler's time
  const held = scheduler.inMemoryCount;
  const overdue = overdueAt(n, start, now);
  let peakHeld = held;
  while (dispatcher.delivered < overdue) {
    await sleep(0);
    peakHeld = Math.max(peakHeld, scheduler.inMemoryCount);
  }
  await scheduler.settled();
  const drainMs = performance.now() - began - measuringMs; // start() included
  scheduler.stop();
  const name =
    maxInMemory === UNBOUNDED
      ? "restart, unpaged (today's behaviour)"
      : `restart, pages of ${maxInMemory.toLocaleString("en-US")}`;
  return {
    row: { name, ms: startMs, held, heapMb: heap, note: "start(): store not included" },
    drainMs,
    delivered: dispatcher.delivered,
    peakHeld,
  };
}

/** The week's alarms stored as a scheduler stores them, without one running (the outage). */
async function filledStore(n: number, start: number): Promise<AlarmStore> {
  const store = createMemoryAlarmStore();
  const writer = createScheduler({ dispatcher: countingDispatcher(), store, clock: shiftedClock(start) });
  for (const { message, at } of messages(n, start)) await writer.schedule(message, { at });
  return store;
}

/** Goals: after the outage the paged restart holds ≤ 2 MB, and drains at ≥ 2/3 of the unpaged rate. */
const GOAL_HEAP_MB = 2;
const GOAL_DRAIN_RATIO = 2 / 3;

export async function schedulerBench(): Promise<void> {
  const rows: string[][] = [];
  const drains: string[][] = [];
  const goals: string[] = [];
  for (const n of SIZES) {
    const start = Date.now();
    rows.push(cells(n, baselineWeek(n, start)));
    rows.push(cells(n, await schedulerWeek(n, start, createMemoryAlarmStore())));
    const later = start + OUTAGE;
    rows.push(cells(n, await baselineRestart(await filledStore(n, start), later)));
    const rates: number[] = [];
    for (const maxInMemory of [UNBOUNDED, 1_000]) {
      const result = await restart(n, start, await filledStore(n, start), maxInMemory);
      rates.push(result.delivered / result.drainMs);
      if (maxInMemory !== UNBOUNDED) {
        const ratio = (rates[1] ?? 0) / (rates[0] ?? 1);
        const heapOk = result.row.heapMb <= GOAL_HEAP_MB;
        goals.push(
          `${n.toLocaleString("en-US")} alarms: heap after restart ${fmt(result.row.heapMb, 1)} MB (goal ≤ ${GOAL_HEAP_MB} MB: ${heapOk ? "met" : "MISSED"}); drain at ${fmt(ratio, 2)}× the unpaged rate (goal ≥ ${fmt(GOAL_DRAIN_RATIO, 2)}×: ${ratio >= GOAL_DRAIN_RATIO ? "met" : "MISSED"})`,
        );
      }
      rows.push(cells(n, result.row));
      drains.push([
        n.toLocaleString("en-US"),
        result.row.name,
        result.delivered.toLocaleString("en-US"),
        fmt(result.drainMs, 0),
        fmt((result.delivered / result.drainMs) * 1000, 0),
        result.peakHeld.toLocaleString("en-US"),
      ]);
    }
  }

  console.log("# x3m-system scheduler benchmark\n");
  console.log("Alarms spread evenly over a week; window = now + 12 h; real setTimeout timers everywhere.\n");
  console.log(
    markdown(["alarms", "case", "total ms", "µs/alarm", "held in memory", "heap MB", "armed MB", "note"], rows),
  );
  console.log(
    "\nheap MB: after a forced GC, everything referenced (the scheduler rows include their memory store, except the restarts, which open a store filled beforehand). armed MB: what stop() frees (timers, their alarms, the scheduler's maps).",
  );
  console.log(
    "\nDelivering the overdue half after the 3.5-day outage, from start() on (the dispatcher answers at once):\n",
  );
  console.log(markdown(["alarms", "case", "delivered", "ms", "deliveries/s", "peak held"], drains));
  console.log(`\n${goals.join("\n")}`);
}

// `node --expose-gc test/bench/scheduler.ts` runs this suite alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await schedulerBench();
