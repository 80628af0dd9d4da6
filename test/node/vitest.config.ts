import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "node",
    include: ["**/*.test.ts"],
    setupFiles: ["../fail-on-console.ts"],
    typecheck: { enabled: true, include: ["**/*.test-d.ts"], tsconfig: "../../tsconfig.json" },
  },
});
