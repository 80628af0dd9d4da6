/**
 * Cross-tab round trips in each headless browser of the suite (part of `npm run bench`; `X3M_BROWSERS`
 * picks engines): a request/reply through the BroadcastChannel transport next to a raw BroadcastChannel
 * ping-pong (the platform's limit) and the `broadcast-channel` npm package's ping-pong, in the same run
 * and the same browser. Not a test.
 */
import { ENGINE_INSTALLS, type EngineName, selectedEngines } from "../../scripts/find-browsers.ts";
import { runScenario, startBrowserHarness } from "../browser/harness.ts";
import { type Measurement, table } from "./measure.ts";

async function tabsBenchIn(engine: EngineName): Promise<void> {
  await using harness = await startBrowserHarness({ "tabs-bench": "test/bench/pages/tabs-bench.ts" }, { engine });
  const answering = await harness.newPage();
  await runScenario(answering, "answer");
  const measuring = await harness.newPage();
  const results = await runScenario<Measurement[]>(measuring, "measure");
  console.log(`## Cross-tab request/reply (two ${ENGINE_INSTALLS[engine].label} tabs, one BroadcastChannel)\n`);
  console.log(table(results, results[0], "vs raw BroadcastChannel"));
}

export async function tabsBench(): Promise<void> {
  for (const [i, engine] of selectedEngines().entries()) {
    if (i > 0) console.log("");
    await tabsBenchIn(engine);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await tabsBench();
