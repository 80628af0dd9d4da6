/**
 * Cross-tab round trips in headless Chromium (part of `npm run bench`): a request/reply through the
 * BroadcastChannel transport next to a raw BroadcastChannel ping-pong (the platform's limit) and the
 * `broadcast-channel` npm package's ping-pong, in the same run. Not a test.
 */
import { runScenario, startBrowserHarness } from "../browser/harness.ts";
import { type Measurement, table } from "./measure.ts";

export async function tabsBench(): Promise<void> {
  await using harness = await startBrowserHarness({ "tabs-bench": "test/bench/pages/tabs-bench.ts" });
  const answering = await harness.newPage();
  await runScenario(answering, "answer");
  const measuring = await harness.newPage();
  const results = await runScenario<Measurement[]>(measuring, "measure");
  console.log("## Cross-tab request/reply (two Chromium tabs, one BroadcastChannel)\n");
  console.log(table(results, results[0], "vs raw BroadcastChannel"));
}

if (import.meta.url === `file://${process.argv[1]}`) await tabsBench();
