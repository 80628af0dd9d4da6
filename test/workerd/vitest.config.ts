import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// These tests run inside workerd (the Workers runtime), against the Worker in ./wrangler.toml.
export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  test: {
    name: "workerd",
    include: ["**/*.test.ts"],
    // Real storage and sockets: a busy machine must not turn a slow test into a failure.
    testTimeout: 60_000,
  },
});
