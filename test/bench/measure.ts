/**
 * Timing helpers for `run.ts`. Every case is warmed up, then the cases take turns for `ROUNDS` rounds
 * (so a burst of load from elsewhere hits all of them alike), and the median round is kept.
 */

export interface Case {
  readonly name: string;
  /** Calls per round. */
  readonly iterations: number;
  /**
   * Makes the call `n` times and returns the last result. Each case writes its own loop so that its
   * call site only ever sees one callee (V8 optimizes a loop shared by every case less well).
   */
  readonly loop: (n: number) => unknown;
}

export interface Measurement {
  readonly name: string;
  /** Median of the rounds. */
  readonly opsPerSec: number;
  readonly usPerCall: number;
  /** Half the gap between the fastest and slowest round, in percent of the median. */
  readonly spreadPct: number;
}

export const ROUNDS = 7;

/** Runs one round of `bench`; returns calls per second. */
async function run(bench: Case): Promise<number> {
  const start = performance.now();
  await bench.loop(bench.iterations);
  return bench.iterations / ((performance.now() - start) / 1000);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const upper = sorted[mid] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? Number.NaN) + upper) / 2;
}

/** Warms every case up with one round, then times `ROUNDS` rounds of each, interleaved. */
export async function measureAll(cases: readonly Case[]): Promise<Measurement[]> {
  for (const bench of cases) await run(bench);
  const rates = cases.map((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, bench] of cases.entries()) rates[i]?.push(await run(bench));
  }
  return cases.map((bench, i) => {
    const rounds = rates[i] ?? [];
    const opsPerSec = median(rounds);
    const spreadPct = ((Math.max(...rounds) - Math.min(...rounds)) / 2 / opsPerSec) * 100;
    return { name: bench.name, opsPerSec, usPerCall: 1e6 / opsPerSec, spreadPct };
  });
}

const fmt = (value: number, digits: number) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A markdown table; "vs direct" is how many times slower than `baseline` (the first row by default). */
export function table(results: readonly Measurement[], baseline = results[0]): string {
  const header = ["case", "ops/sec (median)", "µs/call", "vs direct", "spread"];
  const rows = results.map((r) => [
    r.name,
    fmt(r.opsPerSec, 0),
    fmt(r.usPerCall, 3),
    baseline ? `${fmt(baseline.opsPerSec / r.opsPerSec, 2)}×` : "-",
    `±${fmt(r.spreadPct, 1)}%`,
  ]);
  const lines = [header, header.map((_, i) => (i === 0 ? "---" : "---:")), ...rows];
  return lines.map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}
