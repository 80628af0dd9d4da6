/**
 * Sharded event streams benchmark (part of `npm run bench`): `wrangler dev` runs the Worker in
 * ./event-streams locally. Many aggregate-like objects hold committed events in their transactional
 * outboxes; one call makes all of them relay at once (`createOutboxRelay`, as an aggregate object's alarm
 * does) into one stream shard, into four shards (`shardedEventStreamTarget`), or into a baseline object
 * that does one plain INSERT per event. Ingest throughput per case, in the same run, with the ratios.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startWranglerDev } from "../wrangler-dev.ts";
import { fmt, markdown, median } from "./measure.ts";

const CONFIG = fileURLToPath(new URL("./event-streams/wrangler.toml", import.meta.url));
const ROUNDS = 5;
const TARGETS = ["raw", "shards-1", "shards-4"] as const;
type Target = (typeof TARGETS)[number];
const LABEL: Record<Target, string> = {
  raw: "baseline: one object, a plain INSERT per event",
  "shards-1": "x3m stream, 1 shard (`defineEventStreamObject()`)",
  "shards-4": "x3m stream, 4 shards (`{ shards: 4 }`)",
};
/** Relaying objects × events each in their outbox (one batch per object: the relay sends up to 100 per call). */
const SIZES = [
  { aggregates: 100, events: 1 },
  { aggregates: 1_000, events: 1 },
  { aggregates: 100, events: 20 },
] as const;

interface SinkStats {
  readonly requests: number;
  readonly events: number;
  readonly stored: number;
}

async function get<T>(origin: string, path: string, params: Record<string, string | number>): Promise<T> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const response = await fetch(`${origin}${path}?${query}`, { signal: AbortSignal.timeout(120_000) });
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(`${path}: ${body.error ?? response.status}`);
  return body;
}

const sum = (stats: readonly SinkStats[], key: keyof SinkStats) => stats.reduce((total, s) => total + s[key], 0);

interface Round {
  readonly ms: number;
  /** Ingest calls on all sinks, and on the busiest one (each `/stats` call reads and zeroes the counts). */
  readonly requests: number;
  readonly busiestRequests: number;
}

/** Seeds (untimed), then times one relay of every outbox into `target` from Node; checks every event landed once. */
async function round(origin: string, target: Target, size: (typeof SIZES)[number], tag: string): Promise<Round> {
  await get(origin, "/seed", { ...size, tag });
  const before = await get<SinkStats[]>(origin, "/stats", { target });
  const start = performance.now();
  const { left } = await get<{ left: number }>(origin, "/relay", { ...size, target });
  const ms = performance.now() - start;
  const after = await get<SinkStats[]>(origin, "/stats", { target });
  const expected = size.aggregates * size.events;
  const stored = sum(after, "stored") - sum(before, "stored");
  if (left !== 0 || stored !== expected) {
    throw new Error(`${target} ${tag}: ${stored} of ${expected} events stored once, ${left} left in outboxes`);
  }
  const requests = after.map((s) => s.requests);
  return { ms, requests: requests.reduce((a, b) => a + b, 0), busiestRequests: Math.max(...requests) };
}

// ---- one shard's own ingest cost, inside the object ---------------------------------------------------

const LOOPS = [
  { perCall: 1, calls: 4_000 },
  { perCall: 10, calls: 400 },
  { perCall: 100, calls: 40 },
] as const;
const LOOP_CASES = ["raw", "raw-dedup", "shards-1"] as const;
const LOOP_LABEL: Record<(typeof LOOP_CASES)[number], string> = {
  raw: "baseline: plain INSERTs, one `transactionSync` per call",
  "raw-dedup": "baseline: the same work by hand (unique (stream, version) index, `ON CONFLICT DO NOTHING`)",
  "shards-1": "x3m shard `ingest` (route and stream checks, idempotent)",
};

interface LoopResult {
  readonly ms: number;
  readonly bytes: number;
}

/** Times one shard's ingest inside the object next to plain INSERTs, for 1, 10 and 100 events per call. */
async function ownCost(origin: string): Promise<void> {
  const rows: string[][] = [];
  const summary: string[] = [];
  let tag = 0;
  for (const loop of LOOPS) {
    const events = loop.calls * loop.perCall;
    const times = new Map(LOOP_CASES.map((c) => [c, [] as number[]]));
    const bytes = new Map(LOOP_CASES.map((c) => [c, [] as number[]]));
    for (let round = -1; round < ROUNDS; round++) {
      for (const target of LOOP_CASES) {
        const result = await get<LoopResult>(origin, "/loop", { target, ...loop, tag: `loop-${tag++}` });
        if (round < 0) continue; // warm-up
        times.get(target)?.push(result.ms);
        bytes.get(target)?.push(result.bytes / events);
      }
    }
    const raw = median(times.get("raw") ?? []);
    const byHand = median(times.get("raw-dedup") ?? []);
    for (const target of LOOP_CASES) {
      const ms = median(times.get(target) ?? []);
      rows.push([
        String(loop.perCall),
        LOOP_LABEL[target],
        fmt((ms * 1000) / loop.calls, 1),
        fmt((ms * 1000) / events, 1),
        `${fmt(ms / raw, 2)}×`,
        `${fmt(ms / byHand, 2)}×`,
        fmt(loop.calls / (ms / 1000), 0),
        fmt(events / (ms / 1000), 0),
        fmt(median(bytes.get(target) ?? []), 0),
      ]);
    }
    const x3m = median(times.get("shards-1") ?? []);
    summary.push(
      `${loop.perCall} per call: ${fmt((x3m * 1000) / loop.calls, 0)} µs per call, ${fmt(loop.calls / (x3m / 1000), 0)} calls/s`,
    );
  }
  console.log("## One shard's own ingest cost, timed inside the object\n");
  console.log(
    markdown(
      [
        "events per call",
        "case",
        "µs per call",
        "µs per event",
        "vs plain INSERT",
        "vs the same work by hand",
        "calls/s of the object's time",
        "events/s",
        "database bytes per event",
      ],
      rows,
    ),
  );
  console.log(`
One object calls its own ingest (\`defineEventStreamObject()\`'s, route and stream checks included) in a loop over prepared batches, each a new stream with versions 0…n-1 and metadata shaped like a real command's (three message ids and the answer); timed with \`performance.now()\` around the loop inside the object (no RPC, no relay). baselines: the same rows as plain INSERTs into a table without any index, and into one with the shard's unique (stream, version) index and \`ON CONFLICT DO NOTHING\` (what makes ingest idempotent), one \`transactionSync\` per call. Database bytes per event: growth of \`sql.databaseSize\` over the loop. Median of ${ROUNDS} interleaved rounds after a warm-up.
${summary.join("; ")}.`);
}

// ---- many objects relaying at once into 1 shard, 4 shards, or the raw baseline ---------------------

export async function eventStreamsBench(): Promise<void> {
  const started = performance.now();
  // On a tmpfs when there is one: the figures are then the objects' work, not the machine's disk syncs.
  const persistTo = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/x3m-stream-bench-") : undefined;
  const dev = await startWranglerDev({ config: CONFIG, ...(persistTo ? { persistTo } : {}) });
  try {
    console.log("# x3m-system sharded event streams benchmark\n");
    console.log(
      `wrangler dev (local workerd, SQLite-backed objects, state in ${persistTo ? "a tmpfs" : "a temporary directory"}), started in ${fmt((performance.now() - started) / 1000, 1)} s; Node ${process.version}.\n`,
    );
    await ownCost(dev.origin);
    console.log("\n## Many objects relaying at once: 1 shard, 4 shards, raw baseline\n");
    const rows: string[][] = [];
    const notes: string[] = [];
    for (const size of SIZES) {
      const events = size.aggregates * size.events;
      // Warm-up: creates the relaying objects and the sinks, one untimed round each.
      for (const target of TARGETS) await round(dev.origin, target, size, `warm-${target}-${size.aggregates}`);
      const rounds = new Map<Target, Round[]>(TARGETS.map((t) => [t, []]));
      for (let r = 0; r < ROUNDS; r++) {
        for (const target of TARGETS) {
          rounds
            .get(target)
            ?.push(await round(dev.origin, target, size, `${target}-${size.aggregates}-${size.events}-${r}`));
        }
      }
      const rate = (target: Target) => median((rounds.get(target) ?? []).map((x) => events / (x.ms / 1000)));
      const raw = rate("raw");
      const one = rate("shards-1");
      for (const target of TARGETS) {
        const all = rounds.get(target) ?? [];
        const rates = all.map((x) => events / (x.ms / 1000));
        const eps = median(rates);
        const requests = median(all.map((x) => x.requests));
        const busiest = median(all.map((x) => x.busiestRequests));
        rows.push([
          `${size.aggregates.toLocaleString("en-US")} × ${size.events}`,
          LABEL[target],
          fmt(eps, 0),
          `${fmt(eps / one, 2)}×`,
          `${fmt(eps / raw, 2)}×`,
          `±${fmt(((Math.max(...rates) - Math.min(...rates)) / 2 / eps) * 100, 0)}%`,
          requests.toLocaleString("en-US"),
          `${busiest.toLocaleString("en-US")} (${fmt((busiest / requests) * 100, 0)}%)`,
        ]);
      }
      notes.push(
        `${size.aggregates.toLocaleString("en-US")} objects × ${size.events}: 4 shards ${fmt(rate("shards-4") / one, 2)}× the wall-clock throughput of 1 shard; 1 shard ${fmt(one / raw, 2)}× the raw baseline.`,
      );
    }
    console.log(
      markdown(
        [
          "objects × events each",
          "case",
          "events/s (median)",
          "vs 1 shard",
          "vs raw",
          "spread",
          "ingest calls",
          "calls on the busiest object",
        ],
        rows,
      ),
    );
    console.log(`
Each round: every relaying object gets new events on a new stream (untimed), then one Worker request makes all of them relay at once (\`createOutboxRelay\` → target → delete the acknowledged rows), timed from Node; then every event is checked stored once and every outbox empty (a failed check stops the benchmark). Median of ${ROUNDS} interleaved rounds after a warm-up round.
baseline: the same relays into one object whose ingest is a plain INSERT per event in one \`transactionSync\` (no de-duplication, no shard check): one object's floor.
calls on the busiest object: the ingest calls the most loaded sink took (its share): what a per-object limit applies to.
Here every object runs in one local workerd process on the benchmark machine, so the wall-clock figures are that process's; what sharding changes everywhere is each object's share of the calls. On Cloudflare the soft limit (~1,000 requests/s) applies per object, so a stream's ceiling grows with that share (not measured here).`);
    for (const note of notes) console.log(note);
  } finally {
    await dev.stop();
    if (persistTo) rmSync(persistTo, { recursive: true, force: true });
  }
  console.log(
    `\nMeasured in ${((performance.now() - started) / 1000).toFixed(1)} s (wrangler dev start and stop included).`,
  );
}

// `node test/bench/event-streams.ts` runs this suite alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await eventStreamsBench();
