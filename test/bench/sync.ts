/**
 * Offline sync throughput (part of `npm run bench`): deposits queued offline in IndexedDB, then synced to
 * the playground Worker under `wrangler dev` (push, edge re-execution, pull, confirmed events replacing
 * tentative ones), next to the same deposits pushed raw to the edge's sync endpoint. Not a test.
 */
import { runScenario, startBrowserHarness } from "../browser/harness.ts";
import { startWranglerDev } from "../wrangler-dev.ts";
import { fmt, markdown, median } from "./measure.ts";

const N = 200;
const BATCH = 50;
const ROUNDS = 3;

export async function syncBench(): Promise<void> {
  await using edge = await startWranglerDev();
  await using harness = await startBrowserHarness(
    { "sync-bench": "test/bench/pages/sync-bench.ts" },
    { edge: edge.origin },
  );
  const page = await harness.newPage();
  const client: number[] = [];
  const queue: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const synced = await runScenario<{ queueMs: number; syncMs: number; balance: number }>(page, "offlineThenSync", {
      n: N,
      batchSize: BATCH,
    });
    if (synced.balance !== N)
      throw new Error(`sync bench: balance ${synced.balance}, expected ${N} (not exactly once)`);
    client.push(synced.syncMs);
    queue.push(synced.queueMs);
    raw.push((await runScenario<{ syncMs: number }>(page, "rawPush", { n: N, batchSize: BATCH })).syncMs);
  }
  const perSec = (ms: number) => (N / ms) * 1000;
  const base = median(raw);
  console.log(
    `## Offline sync to a local Worker (${N} deposits on one account, batches of ${BATCH}, median of ${ROUNDS})\n`,
  );
  console.log(
    markdown(
      ["case", "commands/s", "ms total", "vs raw push"],
      [
        ["raw `POST /x3m/sync/push` of the same commands (baseline)", fmt(perSec(base), 0), fmt(base, 0), "1.00×"],
        [
          "offline client: push + pull + confirm in IndexedDB (exactly once, checked)",
          fmt(perSec(median(client)), 0),
          fmt(median(client), 0),
          `${fmt(median(client) / base, 2)}×`,
        ],
        [
          "offline client: queueing while offline (local run + IndexedDB)",
          fmt(perSec(median(queue)), 0),
          fmt(median(queue), 0),
          "-",
        ],
      ],
    ),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await syncBench();
