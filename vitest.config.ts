import { defineConfig } from "vitest/config";

// One vitest run, three runtimes: each project is its own folder with its own config.
export default defineConfig({
  test: {
    projects: ["test/node/vitest.config.ts", "test/workerd/vitest.config.ts", "test/browser/vitest.config.ts"],
  },
});
