import { defineConfig } from "vitest/config";
import { selectedEngines } from "../../scripts/find-browsers.ts";

// Node-side tests that drive a real headless browser against pages served on loopback: every file runs
// once per engine, as the project "browser (<engine>)"; X3M_BROWSERS=firefox,webkit (say) picks engines.
export default defineConfig({
  test: {
    projects: selectedEngines().map((engine) => ({
      test: {
        name: engine,
        include: ["**/*.test.ts"],
        testTimeout: 60_000,
        hookTimeout: 60_000,
        env: { X3M_BROWSER: engine },
      },
    })),
  },
});
