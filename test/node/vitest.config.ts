import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string) => fileURLToPath(new URL(`../../src/${path}`, import.meta.url));
const adapter = (name: string) => fileURLToPath(new URL(`../../adapters/${name}/index.ts`, import.meta.url));

export default defineConfig({
  // The guides' examples import the package by name; in tests that name is the source.
  resolve: {
    alias: [
      { find: /^x3m-system\/testing$/, replacement: src("testing/index.ts") },
      { find: /^x3m-system\/opentelemetry$/, replacement: adapter("opentelemetry") },
      { find: /^x3m-system\/indexeddb$/, replacement: adapter("indexeddb") },
      { find: /^x3m-system\/broadcast-channel$/, replacement: adapter("broadcast-channel") },
      { find: /^x3m-system\/edge-client$/, replacement: adapter("edge-client") },
      { find: /^x3m-system$/, replacement: src("index.ts") },
    ],
  },
  test: {
    name: "node",
    include: ["**/*.test.ts"],
    setupFiles: ["../fail-on-console.ts"],
    typecheck: { enabled: true, include: ["**/*.test-d.ts"], tsconfig: "../../tsconfig.json" },
  },
});
