/**
 * Timing helpers for the benchmark suites. Every case is warmed up, then the cases take turns for `ROUNDS` rounds
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
  /** Runs untimed before every round (the warm-up included), e.g. to start each round on fresh streams. */
  readonly setup?: () => unknown;
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
  await bench.setup?.();
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

export const fmt = (value: number, digits: number) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Each row's baseline: one row for all (the first by default), or chosen per row (`undefined` prints "-"). */
export type Baseline = Measurement | undefined | ((row: Measurement, index: number) => Measurement | undefined);

/**
 * A markdown table; the ratio column (headed `ratioHeader`) is how many times slower than the row's
 * baseline each row is, i.e. its µs/call divided by the baseline's.
 */
export function table(
  results: readonly Measurement[],
  baseline: Baseline = results[0],
  ratioHeader = "vs direct",
): string {
  const header = ["case", "ops/sec (median)", "µs/call", ratioHeader, "spread"];
  const rows = results.map((r, i) => {
    const base = typeof baseline === "function" ? baseline(r, i) : baseline;
    return [
      r.name,
      fmt(r.opsPerSec, 0),
      fmt(r.usPerCall, 3),
      base ? `${fmt(base.opsPerSec / r.opsPerSec, 2)}×` : "-",
      `±${fmt(r.spreadPct, 1)}%`,
    ];
  });
  return markdown(header, rows);
}

/** A markdown table: the first column left-aligned, the others right-aligned. */
export function markdown(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [header, header.map((_, i) => (i === 0 ? "---" : "---:")), ...rows];
  return lines.map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}
