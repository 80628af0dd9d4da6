import { afterEach, vi } from "vitest";

// Stray console output in a test is a bug (Zod's habit): the SDK reports through telemetry, not console.
const methods = ["log", "info", "warn", "error", "debug"] as const;
const calls: string[] = [];
for (const method of methods) {
  vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
    calls.push(`console.${method}: ${args.map(String).join(" ")}`);
  });
}
afterEach(() => {
  const seen = calls.splice(0);
  if (seen.length > 0) throw new Error(`unexpected console output:\n${seen.join("\n")}`);
});
