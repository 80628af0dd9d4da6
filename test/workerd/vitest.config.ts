import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// These tests run inside workerd (the Workers runtime), not Node.
export default defineConfig({
  plugins: [
    cloudflareTest({
      miniflare: { compatibilityDate: "2026-11-01", compatibilityFlags: [] },
    }),
  ],
  test: {
    name: "workerd",
    include: ["**/*.test.ts"],
  },
});
