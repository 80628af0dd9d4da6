import { defineConfig } from "vitest/config";

// Node-side tests that drive a real headless Chromium (playwright-core) against pages served on loopback.
export default defineConfig({
  test: {
    name: "browser",
    include: ["**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
