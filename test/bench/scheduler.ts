/**
 * Scheduler benchmark: 100,000 alarms due over a week. The baseline is the raw platform way (one
 * `setTimeout` per alarm, every message held in memory); the scheduler persists them all and holds only
 * its window (`now + 2 × inMemoryIntervalMs`, 12 h by default). Memory is the heap after a forced GC.
 */
import { type Clock, createMemoryAlarmStore, createScheduler, Message, type Scheduler } from "../../src/index.ts";
import { fmt, markdown } from "./measure.ts";

const ALARMS = 100_000;
const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;

/** A clock whose time the benchmark sets; timers are only counted (nothing fires during the measurement). */
function manualClock(start: number): Clock & { time: number; readonly timers: Set<number> } {
  let next = 0;
  const clock = {
    time: start,
    timers: new Set<number>(),
    now: () => clock.time,
    setTimeout: () => {
      const id = next++;
      clock.timers.add(id);
      return () => clock.timers.delete(id);
    },
  };
  return clock;
}

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1_048_576;
}

const messages = (start: number) =>
  Array.from({ length: ALARMS }, (_, i) => ({
    message: Message.new("remind", { rawRequest: { n: i } }),
    at: start + 1 + Math.floor((i / ALARMS) * WEEK),
  }));

export async function schedulerBench(): Promise<void> {
  const start = Date.now();
  const rows: string[][] = [];

  // Baseline: a timer per alarm, everything in memory.
  const raw = messages(start);
  const before = heapMb();
  let began = performance.now();
  const handles = raw.map(({ message, at }) => setTimeout(() => void message, Math.max(0, at - Date.now())));
  const rawMs = performance.now() - began;
  const rawHeap = heapMb() - before;
  for (const handle of handles) clearTimeout(handle);
  rows.push([
    "baseline: one setTimeout per alarm",
    fmt(rawMs, 0),
    fmt((rawMs * 1000) / ALARMS, 2),
    String(ALARMS),
    fmt(rawHeap, 1),
    "lost on restart",
  ]);

  // The scheduler: every alarm stored, only the window armed.
  const store = createMemoryAlarmStore();
  const clock = manualClock(start);
  const dispatcher = { dispatch: async (msg: Message) => msg.ok() };
  const scheduler: Scheduler = createScheduler({ dispatcher, store, clock });
  await scheduler.start();
  const toSchedule = messages(start);
  const heapBefore = heapMb();
  began = performance.now();
  for (const { message, at } of toSchedule) await scheduler.schedule(message, { at });
  const scheduleMs = performance.now() - began;
  rows.push([
    "scheduler.schedule × 100,000 (memory store)",
    fmt(scheduleMs, 0),
    fmt((scheduleMs * 1000) / ALARMS, 2),
    scheduler.inMemoryCount.toLocaleString("en-US"),
    fmt(heapMb() - heapBefore, 1),
    `${(await store.count()).toLocaleString("en-US")} stored (the heap includes the memory store)`,
  ]);
  scheduler.stop();

  // A restart 3.5 days later: the new scheduler loads only its window from the store.
  const later = manualClock(start + 3.5 * 24 * HOUR);
  const restarted = createScheduler({ dispatcher, store, clock: later });
  began = performance.now();
  await restarted.start();
  const loadMs = performance.now() - began;
  rows.push([
    "restart 3.5 days later: start() loads the window",
    fmt(loadMs, 0),
    "-",
    String(restarted.inMemoryCount),
    "-",
    "due ones late",
  ]);
  restarted.stop();

  console.log("# x3m-system scheduler benchmark\n");
  console.log(`${ALARMS.toLocaleString("en-US")} alarms spread evenly over a week; window = now + 12 h.\n`);
  console.log(markdown(["case", "total ms", "µs/alarm", "held in memory", "heap MB", "note"], rows));
  const expected = Math.round((ALARMS * 12 * HOUR) / WEEK);
  console.log(
    `\nA 12 h window of a week holds ~${expected.toLocaleString("en-US")} alarms (${((12 * HOUR * 100) / WEEK).toFixed(1)}%).`,
  );
  console.log(
    "The restart row counts the 3.5 days already past as overdue (dispatched at once, late) plus the next 12 h.",
  );
}
