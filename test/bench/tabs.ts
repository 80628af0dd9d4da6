/**
 * Cross-tab round trips in each headless browser of the suite (part of `npm run bench`; `X3M_BROWSERS`
 * picks engines): a request/reply through the BroadcastChannel transport next to a raw BroadcastChannel
 * ping-pong (the platform's limit), the `broadcast-channel` npm package's ping-pong, and the floor of any
 * validated transport (the same frames, encoded and validated both ways, over a raw channel), in the same
 * run and the same browser. Not a test.
 */
import { ENGINE_INSTALLS, type EngineName, selectedEngines } from "../../scripts/find-browsers.ts";
import { runScenario, startBrowserHarness } from "../browser/harness.ts";
import { fmt, type Measurement, table } from "./measure.ts";

/** The goals of issue 13: the transport's round trip ÷ the raw ping-pong, and ÷ the package's. */
const GOALS = { raw: 1.15, package: 1 };

async function tabsBenchIn(engine: EngineName): Promise<void> {
  await using harness = await startBrowserHarness({ "tabs-bench": "test/bench/pages/tabs-bench.ts" }, { engine });
  const answering = await harness.newPage();
  await runScenario(answering, "answer");
  const measuring = await harness.newPage();
  const results = await runScenario<Measurement[]>(measuring, "measure");
  const [raw, pkg, floor, x3m, inPage] = results as [Measurement, Measurement, Measurement, Measurement, Measurement];
  console.log(`## Cross-tab request/reply (two ${ENGINE_INSTALLS[engine].label} tabs, one BroadcastChannel)\n`);
  console.log(table(results, raw, "vs raw BroadcastChannel"));
  const ratio = (a: Measurement, b: Measurement) => a.usPerCall / b.usPerCall;
  const verdict = (value: number, goal: number) => (value <= goal ? "met" : "MISSED");
  console.log(`
Sequential round trips, median of 7 interleaved rounds of 300 after a warm-up round; each tab is its own renderer.
x3m's round trip is ${fmt(ratio(x3m, raw), 2)}× the raw ping-pong (goal ≤ ${GOALS.raw}×: ${verdict(ratio(x3m, raw), GOALS.raw)}) and ${fmt(ratio(x3m, pkg), 2)}× the \`broadcast-channel\` package's (goal < ${GOALS.package}×: ${verdict(ratio(x3m, pkg), GOALS.package - 1e-9)}).
The floor, the same frames JSON-encoded and validated on arrival as every node must (no node, no transport logic), is ${fmt(ratio(floor, raw), 2)}× the raw ping-pong: no validated JSON transport can do better. x3m − floor: ${fmt(x3m.usPerCall - floor.usPerCall, 0)} µs; the SDK's whole work per round trip, measured between two nodes of one page, is ${fmt(inPage.usPerCall, 0)} µs.`);
}

export async function tabsBench(): Promise<void> {
  for (const [i, engine] of selectedEngines().entries()) {
    if (i > 0) console.log("");
    await tabsBenchIn(engine);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await tabsBench();
