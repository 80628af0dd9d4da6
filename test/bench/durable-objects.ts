/**
 * Durable Objects benchmark (the fourth suite of `npm run bench`): `wrangler dev` runs the bench Worker
 * in ./durable-objects locally (workerd, SQLite-backed objects, no network), and every case is one call
 * that runs a whole batch inside one object. Commands per second into one aggregate object next to raw
 * SQLite inserts in the same object; cold loads against stream length with and without snapshots; 10,000
 * schedules fired through one object's alarm, each counted on delivery.
 */
import { fileURLToPath } from "node:url";
import { startWranglerDev } from "../wrangler-dev.ts";
import { fmt, markdown, median, ROUNDS } from "./measure.ts";

const CONFIG = fileURLToPath(new URL("./durable-objects/wrangler.toml", import.meta.url));
const CALL_TIMEOUT_MS = 60_000;

// Types of what the bench objects answer (see ./durable-objects/worker.ts).
interface Timed {
  readonly ms: number;
}
interface ScheduleReport {
  readonly scheduled: number;
  readonly delivered: number;
  readonly distinct: number;
  readonly duplicates: number;
  readonly strangers: number;
  readonly stored: number;
  readonly deadLetters: number;
  readonly alarms: number;
  readonly alarmMs: number;
  readonly alarmDelayMs: number;
  readonly done: boolean;
}
type Binding = "COMMANDS" | "SCHEDULER" | "RAW_ALARMS";

/** One benchmark call: the Worker forwards it to the named object's method. Answers the result and the wall time. */
async function call<T>(
  origin: string,
  binding: Binding,
  object: string,
  method: string,
  ...args: unknown[]
): Promise<{ result: T; wallMs: number }> {
  const start = performance.now();
  const response = await fetch(`${origin}/call`, {
    method: "POST",
    body: JSON.stringify({ binding, object, method, args }),
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const body = (await response.json()) as T & { error?: string };
  const wallMs = performance.now() - start;
  if (!response.ok) throw new Error(`${binding}/${object}.${method}: ${body.error ?? response.status}`);
  return { result: body, wallMs };
}

// ---- timing ---------------------------------------------------------------------------------------

/** How a batch is timed: inside the object when its clock advances there, else from Node minus the empty call. */
interface Timing {
  readonly inObject: boolean;
  /** Median wall time of the empty call (Node → Worker → object → back). */
  rttMs: number;
  readonly describe: string;
}

async function chooseTiming(origin: string): Promise<Timing> {
  // The empty call first (its first rounds start the object): its median is what every call pays.
  const rtts: number[] = [];
  for (let i = 0; i < 40; i++) rtts.push((await call<Timed>(origin, "COMMANDS", "commands", "noop")).wallMs);
  const rttMs = median(rtts.slice(10));
  const { result, wallMs } = await call<{ perf: number; date: number }>(
    origin,
    "COMMANDS",
    "commands",
    "clockProbe",
    100_000_000,
  );
  const spun = wallMs - rttMs;
  // The object's clock is usable when it saw most of the spin Node saw.
  const inObject = result.perf >= spun * 0.5 && result.perf >= 10;
  const seen = `a CPU spin of ~${fmt(spun, 0)} ms (Node's view) moved the object's performance.now() by ${fmt(result.perf, 0)} ms and Date.now() by ${fmt(result.date, 0)} ms`;
  const describe = inObject
    ? `in the object: ${seen}, so local workerd does not freeze its clock (1 ms steps); each batch is timed with performance.now() around its loop inside the object (batches last ≥ ~100 ms). "end-to-end" columns are Node's wall time around the call minus the empty call's ${fmt(rttMs, 2)} ms: they add the commit of the batch's writes, which the object's output gate waits for before answering.`
    : `from Node: ${seen}, so the object's clock is not usable; each batch is Node's wall time around the one call minus the empty call's ${fmt(rttMs, 2)} ms (and includes the commit of the batch's writes).`;
  return { inObject, rttMs, describe };
}

/** A batch's milliseconds by the chosen method, and end to end (from Node, minus the empty call). */
const batchMs = (timing: Timing, timed: Timed, wallMs: number) => ({
  ms: timing.inObject ? timed.ms : Math.max(0, wallMs - timing.rttMs),
  endToEndMs: Math.max(0, wallMs - timing.rttMs),
});

interface Row {
  readonly name: string;
  readonly n: number;
  readonly opsPerSec: number;
  readonly spreadPct: number;
  readonly endToEndUs: number;
}

function summarize(name: string, n: number, rounds: readonly { ms: number; endToEndMs: number }[]): Row {
  const rates = rounds.map((r) => n / (r.ms / 1000));
  const opsPerSec = median(rates);
  return {
    name,
    n,
    opsPerSec,
    spreadPct: ((Math.max(...rates) - Math.min(...rates)) / 2 / opsPerSec) * 100,
    endToEndUs: (median(rounds.map((r) => r.endToEndMs)) * 1000) / n,
  };
}

// ---- (a), (b) commands per second next to raw inserts ------------------------------------------------

const RAW_INSERTS = 20_000;
const APPENDS = 5_000;
const DEPOSITS = 5_000;

async function commandsPerSecond(origin: string, timing: Timing): Promise<void> {
  const object = "commands";
  const cases: { name: string; n: number; run: () => Promise<{ result: Timed; wallMs: number }> }[] = [
    {
      name: "baseline: raw `INSERT` of the same row, one per awaited call",
      n: RAW_INSERTS,
      run: () => call<Timed>(origin, "COMMANDS", object, "rawInserts", RAW_INSERTS, false),
    },
    {
      name: "raw `INSERT`, each in `transactionSync`",
      n: RAW_INSERTS,
      run: () => call<Timed>(origin, "COMMANDS", object, "rawInserts", RAW_INSERTS, true),
    },
    {
      name: "raw: the append's 4 statements in `transactionSync`",
      n: APPENDS,
      run: () => call<Timed>(origin, "COMMANDS", object, "rawAppendStatements", APPENDS),
    },
    {
      name: "`createSqlEventStore` `append` of one event (no host)",
      n: APPENDS,
      run: () => call<Timed>(origin, "COMMANDS", object, "appends", APPENDS),
    },
    {
      name: 'x3m: `host.on("deposit")(msg)` on `createSqlEventStore`',
      n: DEPOSITS,
      run: () => call<Timed>(origin, "COMMANDS", object, "deposits", DEPOSITS),
    },
  ];
  // Warm-up (one round; the deposits first: the raw rows copy a stored deposit's data and metadata).
  const sample = await call<Timed & { version: number }>(origin, "COMMANDS", object, "deposits", 100);
  if (sample.result.version !== 100) throw new Error("warm-up deposits did not land");
  const bytes = (await call<{ bytes: number }>(origin, "COMMANDS", object, "rawInserts", 1, false)).result.bytes;
  for (const c of cases) await c.run();

  const rounds = cases.map((): { ms: number; endToEndMs: number }[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, c] of cases.entries()) {
      const { result, wallMs } = await c.run();
      rounds[i]?.push(batchMs(timing, result, wallMs));
    }
  }
  const rows = cases.map((c, i) => summarize(c.name, c.n, rounds[i] ?? []));
  const base = rows[0];
  const statements = rows[2];
  const append = rows[3];
  const deposit = rows[4];

  console.log("## Commands per second into one object, next to raw SQLite inserts in the same object\n");
  console.log(
    markdown(
      ["case", "calls per batch", "ops/sec (median)", "µs/call", "time vs raw INSERT", "spread", "end-to-end µs/call"],
      rows.map((r) => [
        r.name,
        r.n.toLocaleString("en-US"),
        fmt(r.opsPerSec, 0),
        fmt(1e6 / r.opsPerSec, 2),
        base ? `${fmt(base.opsPerSec / r.opsPerSec, 2)}×` : "-",
        `±${fmt(r.spreadPct, 1)}%`,
        fmt(r.endToEndUs, 2),
      ]),
    ),
  );
  console.log(`
One object (\`CommandBench\`), one call per batch; every row's calls are awaited one by one, as a command loop would.
baseline: \`sql.exec("INSERT …")\` of a row shaped like an event (stream, version, type, data, metadata, time) holding the exact data and metadata text the host stored for a deposit (${bytes} bytes), into a plain table: the platform's floor.
raw 4 statements: what \`createSqlEventStore\`'s append runs, written by hand on its tables (the floor of that design).
x3m row: a fresh account per batch (opened untimed), then deposits of 1 through \`host.on("deposit")\` of \`createAggregateHost(account, { store: createSqlEventStore(ctx.storage) })\` (the test fixture's account: zod validation, state-aware checks); each is validated, handled, appended in one transaction (read the stream row, \`MAX(position)\`, insert, upsert the stream) and folded.
time vs raw INSERT: the row's µs per call ÷ the baseline's. end-to-end: per call, from Node, including the commit of the whole batch (the object's implicit transaction) before the answer leaves the object.
Median of ${ROUNDS} interleaved rounds after one warm-up round.`);
  if (base && statements && append && deposit) {
    const us = (r: Row) => 1e6 / r.opsPerSec;
    console.log(
      `A deposit through the host costs ${fmt(base.opsPerSec / deposit.opsPerSec, 1)}× a raw insert: ${fmt(deposit.opsPerSec, 0)} commands/sec into one aggregate object against ${fmt(base.opsPerSec, 0)} raw inserts/sec in the same object. ` +
        `Of its ${fmt(us(deposit), 1)} µs, the store's append takes ${fmt(us(append), 1)} (its four statements by hand: ${fmt(us(statements), 1)}), the host the other ${fmt(us(deposit) - us(append), 1)}.`,
    );
  }
}

// ---- (c) cold loads -----------------------------------------------------------------------------------

const SIZES = [1_000, 10_000, 100_000];
const WORST_SINCE = 999;
const COLD_ROUNDS = 5;
/** Cold loads per call: enough for ~`TARGET_MS` per call. */
const TARGET_MS = 60;

interface LoadRow {
  readonly events: number;
  readonly since: number;
  readonly raw: number;
  readonly none: number;
  readonly snapshot: number;
  readonly snapshotKb: number;
}

/** Median ms per load of: the raw read-and-fold, a fresh host without snapshots, a fresh host with them. */
async function timeLoads(
  origin: string,
  timing: Timing,
  object: string,
  events: number,
): Promise<[number, number, number]> {
  const variants = [
    (reps: number) => call<Timed>(origin, "COMMANDS", object, "rawLoad", "cold", reps, events),
    (reps: number) => call<Timed>(origin, "COMMANDS", object, "coldLoad", "cold", false, reps, events),
    (reps: number) => call<Timed>(origin, "COMMANDS", object, "coldLoad", "cold", true, reps, events),
  ];
  const reps = variants.map(() => 1);
  const times = variants.map((): number[] => []);
  const once = async (i: number) => {
    const count = reps[i] ?? 1;
    const { result, wallMs } = await (variants[i] as (reps: number) => ReturnType<typeof call<Timed>>)(count);
    return batchMs(timing, { ms: result.ms * count }, wallMs).ms / count;
  };
  // Warm-up, which also sizes each variant's calls.
  for (const i of variants.keys()) {
    const ms = await once(i);
    reps[i] = Math.max(1, Math.min(500, Math.ceil(TARGET_MS / Math.max(ms, 0.05))));
  }
  for (let round = 0; round < COLD_ROUNDS; round++) {
    for (const i of variants.keys()) times[i]?.push(await once(i));
  }
  return [median(times[0] ?? []), median(times[1] ?? []), median(times[2] ?? [])];
}

async function coldLoads(origin: string, timing: Timing): Promise<void> {
  const rows: LoadRow[] = [];
  let seedMs = 0;
  for (const size of SIZES) {
    const object = `cold-${size}`;
    const seeded = await call<Timed & { snapshotBytes: number }>(origin, "COMMANDS", object, "seed", "cold", size);
    seedMs += seeded.wallMs;
    const snapshotKb = seeded.result.snapshotBytes / 1024;
    const [raw, none, snapshot] = await timeLoads(origin, timing, object, size);
    rows.push({ events: size, since: 0, raw, none, snapshot, snapshotKb });
    seedMs += (await call<Timed>(origin, "COMMANDS", object, "more", "cold", WORST_SINCE)).wallMs;
    const later = await timeLoads(origin, timing, object, size + WORST_SINCE);
    rows.push({
      events: size + WORST_SINCE,
      since: WORST_SINCE,
      raw: later[0],
      none: later[1],
      snapshot: later[2],
      snapshotKb,
    });
  }

  const n = (value: number) => value.toLocaleString("en-US");
  const ms = (value: number) => fmt(value, value < 10 ? 2 : 1);
  console.log("\n## Cold load in an object: `host.getState(id)` on a fresh host, one stream in SQLite\n");
  console.log(
    markdown(
      [
        "events in stream",
        "since snapshot",
        "baseline: raw SELECT + fold (ms)",
        "no snapshot (ms)",
        "vs raw",
        "with snapshot (ms)",
        "speed-up",
        "snapshot size",
      ],
      rows.map((r) => [
        n(r.events),
        n(r.since),
        ms(r.raw),
        ms(r.none),
        `${fmt(r.none / r.raw, 2)}×`,
        ms(r.snapshot),
        `${fmt(r.none / r.snapshot, 1)}×`,
        `${n(Math.round(r.snapshotKb))} KB`,
      ]),
    ),
  );
  console.log(`
One object per stream length. Seeding (untimed, ${fmt(seedMs / 1000, 1)} s in all): an open, deposits appended in batches of 1,000, then the last 999 deposits through a host with \`snapshots: { every: 1,000 }\`, which writes its snapshot ({ state, processed: the last 1,000 message ids }, size as JSON) at the last event; the "999 since" rows add 999 more deposits after it.
baseline: one \`SELECT version, data FROM x3m_events WHERE stream = ? ORDER BY version\`, each event's JSON parsed and applied (no metadata, no idempotency record): the floor.
no snapshot: a fresh \`createAggregateHost(account, { store })\` reads the stream in pages of 1,000 and folds every event. with snapshot: a fresh host with the policy loads the snapshot, then the events after it.
"Cold" means a new host instance (nothing in its memory); the object and its SQLite page cache stay warm.
Median of ${COLD_ROUNDS} interleaved calls after one warm-up; each call runs enough fresh-host loads for ~${TARGET_MS} ms and reports ms per load.`);
  const first = rows[0];
  const largest = rows[rows.length - 2];
  if (first && largest) {
    const perEvent = median(rows.map((r) => (r.none / r.events) * 1000));
    const rawPerEvent = median(rows.map((r) => (r.raw / r.events) * 1000));
    const withSnapshot = rows.map((r) => r.snapshot);
    console.log(
      `Without a snapshot a cold load costs ~${fmt(perEvent, 1)} µs per event (${ms(first.none)} ms at ${n(first.events)} events, ${ms(largest.none)} ms at ${n(largest.events)}; the raw floor ~${fmt(rawPerEvent, 1)} µs); with one it takes ${ms(Math.min(...withSnapshot))}–${ms(Math.max(...withSnapshot))} ms whatever the stream length.`,
    );
  }
}

// ---- (d) schedules fired through one object's alarm -------------------------------------------------

const SCHEDULES = 10_000;
const SCHEDULE_ROUNDS = 3;
/** Waited after the last delivery, for a late duplicate from a second alarm. */
const GRACE_MS = 300;

interface ScheduleRun {
  readonly scheduleMs: number;
  readonly report: ScheduleReport;
  /** From Node: the schedule call's start to the answer that all were delivered, minus two empty calls. */
  readonly endToEndMs: number;
}

async function scheduleRun(
  origin: string,
  timing: Timing,
  binding: Binding,
  object: string,
  n: number,
): Promise<ScheduleRun> {
  const start = performance.now();
  const scheduled = await call<Timed>(origin, binding, object, "schedule", n);
  const waited = await call<ScheduleReport>(origin, binding, object, "wait", CALL_TIMEOUT_MS - 5_000);
  const endToEndMs = performance.now() - start - 2 * timing.rttMs;
  await new Promise((resolve) => setTimeout(resolve, GRACE_MS));
  const { result: report } = await call<ScheduleReport>(origin, binding, object, "report");
  if (!waited.result.done) throw new Error(`${object}: not all delivered in time: ${JSON.stringify(waited.result)}`);
  return { scheduleMs: batchMs(timing, scheduled.result, scheduled.wallMs).ms, report, endToEndMs };
}

async function schedules(origin: string, timing: Timing): Promise<void> {
  const k = (value: number) => value.toLocaleString("en-US");
  const cases: { name: string; binding: Binding; n: number }[] = [
    { name: `baseline: raw rows + one \`setAlarm\`, × ${k(SCHEDULES)}`, binding: "RAW_ALARMS", n: SCHEDULES },
    { name: `x3m scheduler, × ${k(SCHEDULES / 10)}`, binding: "SCHEDULER", n: SCHEDULES / 10 },
    { name: `x3m scheduler, × ${k(SCHEDULES)}`, binding: "SCHEDULER", n: SCHEDULES },
  ];
  // Warm-up: a small run on each kind of object.
  await scheduleRun(origin, timing, "RAW_ALARMS", "warm-up", 100);
  await scheduleRun(origin, timing, "SCHEDULER", "warm-up", 100);
  const runs = cases.map((): ScheduleRun[] => []);
  for (let round = 0; round < SCHEDULE_ROUNDS; round++) {
    for (const [i, c] of cases.entries()) {
      // A fresh object each time: nothing stored, the scheduler started on an empty table.
      runs[i]?.push(await scheduleRun(origin, timing, c.binding, `${c.binding}-${c.n}-${round}`, c.n));
    }
  }

  const summary = cases.map((c, i) => {
    const all = runs[i] ?? [];
    const perAlarmUs = median(all.map((r) => (r.scheduleMs * 1000) / c.n));
    // The alarm handler's time: from the clock inside the object; without it, the end-to-end time less scheduling.
    const fireMs = median(all.map((r) => (timing.inObject ? r.report.alarmMs : r.endToEndMs - r.scheduleMs)));
    return {
      ...c,
      all,
      perAlarmUs,
      firePerSec: c.n / (fireMs / 1000),
      delayMs: median(all.map((r) => r.report.alarmDelayMs)),
      alarms: median(all.map((r) => r.report.alarms)),
      endToEndMs: median(all.map((r) => r.endToEndMs)),
    };
  });
  const base = summary[0];
  console.log(`\n## ${k(SCHEDULES)} schedules due now, fired through one object's alarm\n`);
  console.log(
    markdown(
      [
        "case",
        "schedule µs/alarm",
        "vs raw",
        "fire: deliveries/sec",
        "vs raw",
        "alarm() calls",
        "first alarm after (ms)",
        "end-to-end ms",
      ],
      summary.map((s) => [
        s.name,
        fmt(s.perAlarmUs, 2),
        base ? `${fmt(s.perAlarmUs / base.perAlarmUs, 2)}×` : "-",
        fmt(s.firePerSec, 0),
        base ? `${fmt(base.firePerSec / s.firePerSec, 2)}×` : "-",
        String(s.alarms),
        fmt(s.delayMs, 0),
        fmt(s.endToEndMs, 0),
      ]),
    ),
  );
  console.log(`
Each run is a fresh object: one call schedules every message due now (\`inMs: 0\`), each awaited; then the object's alarm fires and delivers them, and a second call waits until all were delivered and \`alarm()\` returned.
x3m rows: \`createScheduler\` on \`createSqlAlarmStore(ctx.storage)\` and \`createAlarmClock(ctx.storage).lane("scheduler")\`, with \`alarm() { await runSchedulerAlarm(clock, scheduler); }\` as in \`defineSchedulerObject\` (the scheduler holds 1,000 alarms at most; the alarm goes on with each next page in the same call); the dispatcher counts deliveries per message id and answers ok (then the scheduler deletes the alarm's row).
baseline: the same alarm JSON inserted as one row per message, \`setAlarm\` once; \`alarm()\` selects the due rows in order, parses each message, counts it and deletes its row.
schedule: µs per \`schedule()\` call inside the object. fire: deliveries per second of \`alarm()\` (from entering it to its end). vs raw: times the baseline's cost.
end-to-end: from Node, the schedule call's start to the last delivery's answer (less two empty calls), including the commits and the alarm's start-up.
Median of ${SCHEDULE_ROUNDS} interleaved rounds after a warm-up of 100; then ${GRACE_MS} ms more for a late duplicate before the counts are read.`);

  for (const s of summary) {
    const bad = s.all.filter(
      (r) =>
        r.report.scheduled !== s.n ||
        r.report.delivered !== s.n ||
        r.report.distinct !== s.n ||
        r.report.duplicates !== 0 ||
        r.report.strangers !== 0 ||
        r.report.stored !== 0 ||
        r.report.deadLetters !== 0,
    );
    const counts = (r: ScheduleReport) =>
      `${k(r.scheduled)} scheduled, ${k(r.delivered)} delivered (${k(r.distinct)} distinct ids), ${k(r.duplicates)} duplicates, ${k(r.strangers)} unknown ids, ${k(r.stored)} left stored, ${k(r.deadLetters)} dead letters`;
    if (bad.length === 0) {
      console.log(
        `${s.name}: every round ${k(s.n)} scheduled, ${k(s.n)} delivered, 0 duplicates (${s.all.length} rounds; 0 left stored, 0 dead letters).`,
      );
    } else {
      for (const r of s.all) console.log(`${s.name}: ${counts(r.report)}. EXACTLY-ONCE CHECK FAILED`);
    }
  }
}

// ---- the suite ------------------------------------------------------------------------------------

export async function durableObjectsBench(): Promise<void> {
  const started = performance.now();
  const dev = await startWranglerDev({ config: CONFIG });
  try {
    const bootMs = performance.now() - started;
    const timing = await chooseTiming(dev.origin);
    console.log("# x3m-system Durable Objects benchmark\n");
    console.log(
      `wrangler dev (local workerd, SQLite-backed objects, state in a temporary directory), started in ${fmt(bootMs / 1000, 1)} s; Node ${process.version} (${process.platform}/${process.arch}).`,
    );
    console.log(`Timing: ${timing.describe}\n`);
    await commandsPerSecond(dev.origin, timing);
    await coldLoads(dev.origin, timing);
    await schedules(dev.origin, timing);
  } finally {
    await dev.stop();
  }
  console.log(
    `\nMeasured in ${((performance.now() - started) / 1000).toFixed(1)} s (wrangler dev start and stop included).`,
  );
}

// `node test/bench/durable-objects.ts` runs this suite alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await durableObjectsBench();
