/**
 * IndexedDB benchmark: appends per second in each headless browser of the suite (`X3M_BROWSERS` picks
 * engines) through `openIndexedDbEventStore`, one command of 10 events per transaction, next to a raw idb
 * batch put of the same 10 rows in one transaction (the baseline, in the same browser and run) and to one
 * transaction per event. Measured inside the page (`./pages/indexeddb-bench.ts`), with the timing helpers
 * of every suite.
 */
import { fileURLToPath } from "node:url";
import { ENGINE_INSTALLS, type EngineName, selectedEngines } from "../../scripts/find-browsers.ts";
import { runScenario, startBrowserHarness } from "../browser/harness.ts";
import { fmt, type Measurement, markdown, ROUNDS } from "./measure.ts";

const EVENTS = 10;

/** The browser's name and version from its user agent ("HeadlessChrome/156.0…", "Firefox/153.0"). */
const versionOf = (userAgent: string) =>
  userAgent.match(/HeadlessChrome\/[\d.]+|Firefox\/[\d.]+|AppleWebKit\/[\d.]+/)?.[0] ?? userAgent;

export async function indexedDbBench(): Promise<void> {
  for (const [i, engine] of selectedEngines().entries()) {
    if (i > 0) console.log("");
    await indexedDbBenchIn(engine);
  }
}

async function indexedDbBenchIn(engine: EngineName): Promise<void> {
  const started = performance.now();
  const page = fileURLToPath(new URL("./pages/indexeddb-bench.ts", import.meta.url));
  await using harness = await startBrowserHarness({ "indexeddb-bench": page }, { engine });
  const tab = await harness.newPage();
  const { results, iterations, stored, userAgent } = await runScenario<{
    results: Measurement[];
    iterations: number[];
    stored: number;
    userAgent: string;
  }>(tab, "measure");

  const [baseline, append, rawPerEvent, appendPerEvent] = results;
  console.log(`## IndexedDB appends in ${ENGINE_INSTALLS[engine].label}: one command of 10 events per transaction\n`);
  console.log(`${versionOf(userAgent)}, the browser's default durability\n`);
  console.log(
    markdown(
      ["case", "commands/sec (median)", "events/sec", "µs/command", "time vs raw batch", "spread"],
      results.map((r) => [
        r.name,
        fmt(r.opsPerSec, 0),
        fmt(r.opsPerSec * EVENTS, 0),
        fmt(r.usPerCall, 1),
        baseline ? `${fmt(baseline.opsPerSec / r.opsPerSec, 2)}×` : "-",
        `±${fmt(r.spreadPct, 1)}%`,
      ]),
    ),
  );
  console.log(`
Each call writes ${EVENTS} deposit-shaped events (the same data, metadata and fields in every row) and awaits its transaction(s); a command is one call.
baseline: idb \`put\` of the ${EVENTS} rows into a plain store (keyPath position) and \`tx.done\`, in one readwrite transaction.
x3m: \`store.append(stream, events, { metadata })\`: copies the events, reads the stream row and the last position, writes ${EVENTS} rows (with the unique [stream, epoch, version] index) and the stream row, commits, in one transaction.
one transaction per event: the same ${EVENTS} rows, each in its own transaction (raw idb, then through the store).
Median of ${ROUNDS} interleaved rounds after one warm-up round; calls per round: ${iterations.join(" / ")}; ${stored.toLocaleString("en-US")} events stored by the store in all.`);
  if (baseline && append && rawPerEvent && appendPerEvent) {
    console.log(
      `An append of a ${EVENTS}-event command costs ${fmt(baseline.opsPerSec / append.opsPerSec, 2)}× the raw batch (${fmt(append.usPerCall, 0)} µs against ${fmt(baseline.usPerCall, 0)} µs); ` +
        `one transaction per event costs ${fmt(baseline.opsPerSec / rawPerEvent.opsPerSec, 1)}× raw and ${fmt(baseline.opsPerSec / appendPerEvent.opsPerSec, 1)}× through the store.`,
    );
  }
  console.log(`Measured in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

if (import.meta.url === `file://${process.argv[1]}`) await indexedDbBench();
