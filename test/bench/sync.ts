/**
 * Offline sync (part of `npm run bench`), in headless Chromium against the playground Worker under
 * `wrangler dev`: the local command's latency as the queue grows, the client's exactly-once sync next to
 * raw pushes of the same commands, and a catch-up of many aggregates in one changes request next to one
 * request per aggregate. Every figure has its baseline from the same run. Not a test.
 */
import { runScenario, startBrowserHarness } from "../browser/harness.ts";
import { startWranglerDev } from "../wrangler-dev.ts";
import { fmt, markdown, median } from "./measure.ts";

const ROUNDS = 3;

export async function syncBench(): Promise<void> {
  await using edge = await startWranglerDev();
  await using harness = await startBrowserHarness(
    { "sync-bench": "test/bench/pages/sync-bench.ts" },
    { edge: edge.origin },
  );
  const page = await harness.newPage();

  // 1. A local command, at 10, 100 and 1,000 pending commands on one aggregate.
  const sizes = [10, 100, 1_000];
  const local: { pending: number; p50: number; p95: number; rawP50: number }[] = [];
  for (const pending of sizes) {
    const runs = [];
    for (let round = 0; round < ROUNDS; round++) {
      runs.push(
        await runScenario<{ p50: number; p95: number; rawP50: number }>(page, "localCommand", {
          pending,
          samples: 100,
        }),
      );
    }
    local.push({
      pending,
      p50: median(runs.map((r) => r.p50)),
      p95: median(runs.map((r) => r.p95)),
      rawP50: median(runs.map((r) => r.rawP50)),
    });
  }
  const first = local[0]?.p50 ?? Number.NaN;
  console.log(
    `## Offline client: one local command (run, queue in IndexedDB, answer), median of ${ROUNDS} runs of 100\n`,
  );
  console.log(
    markdown(
      [
        "pending on the aggregate",
        "p50 ms",
        "p95 ms",
        "raw IndexedDB put (one row, one transaction) p50 ms",
        "p50 vs raw",
        "p50 vs 10 pending",
      ],
      local.map((r) => [
        r.pending.toLocaleString("en-US"),
        fmt(r.p50, 2),
        fmt(r.p95, 2),
        fmt(r.rawP50, 2),
        `${fmt(r.p50 / r.rawP50, 2)}×`,
        `${fmt(r.p50 / first, 2)}×`,
      ]),
    ),
  );
  console.log("\nGoal: ≤ 2 ms p50 at every size, and 1,000 pending ≤ 1.2× the cost at 10 (flat).\n");

  // 2. Sync throughput, exactly once, against raw pushes.
  const N = 1_000;
  const shapes = [1, 10];
  const rows: string[][] = [];
  for (const accounts of shapes) {
    const client: number[] = [];
    const raw: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      client.push((await runScenario<{ ms: number }>(page, "clientSync", { n: N, accounts })).ms);
      raw.push((await runScenario<{ ms: number }>(page, "rawPush", { n: N, batchSize: 200, accounts })).ms);
    }
    const perSec = (ms: number) => (N / ms) * 1000;
    rows.push(
      [
        `raw \`POST /x3m/sync/push\`, batches of 200, ${accounts} account(s) (baseline)`,
        fmt(perSec(median(raw)), 0),
        fmt(median(raw), 0),
        "1.00×",
      ],
      [
        `offline client: push, changes, confirm in IndexedDB, exactly once (checked), ${accounts} account(s)`,
        fmt(perSec(median(client)), 0),
        fmt(median(client), 0),
        `${fmt(median(client) / median(raw), 2)}× the time`,
      ],
    );
  }
  console.log(
    `## Offline sync to a local Worker: ${N.toLocaleString("en-US")} deposits queued offline, median of ${ROUNDS}\n`,
  );
  console.log(markdown(["case", "commands/s", "ms total", "vs raw push"], rows));
  console.log("\nGoals: raw push ≥ 3,000 commands/s in batches of 200; the client ≥ 2,000 commands/s.\n");

  // 3. Catch-up: 100 aggregates × 100 events.
  const ids = await runScenario<string[]>(page, "seedAccounts", { aggregates: 100, events: 100 });
  const catchUp: number[] = [];
  const oneRequest: { ms: number; requests: number }[] = [];
  const perAggregate: { ms: number; requests: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    catchUp.push((await runScenario<{ ms: number }>(page, "catchUp", { ids, events: 100 })).ms);
    oneRequest.push(await runScenario<{ ms: number; requests: number }>(page, "rawChanges", { ids }));
    perAggregate.push(await runScenario<{ ms: number; requests: number }>(page, "perAggregatePulls", { ids }));
  }
  const base = median(perAggregate.map((r) => r.ms));
  console.log(`## Catch-up of 100 aggregates × 100 events (10,000 events), median of ${ROUNDS}\n`);
  console.log(
    markdown(
      ["case", "requests", "ms", "vs one request per aggregate"],
      [
        [
          "one request per aggregate, in turn (how protocol 1 pulled; raw, no IndexedDB) (baseline)",
          String(perAggregate[0]?.requests ?? "-"),
          fmt(base, 0),
          "1.00×",
        ],
        [
          "one changes request for every cursor, repeated while `more` (raw, no IndexedDB)",
          String(oneRequest[0]?.requests ?? "-"),
          fmt(median(oneRequest.map((r) => r.ms)), 0),
          `${fmt(base / median(oneRequest.map((r) => r.ms)), 2)}× faster`,
        ],
        [
          "offline client: one sync round, stored and confirmed in IndexedDB",
          "-",
          fmt(median(catchUp), 0),
          `${fmt(base / median(catchUp), 2)}× faster`,
        ],
      ],
    ),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await syncBench();
