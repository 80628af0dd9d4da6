// The core bundle stays small and runtime-agnostic: minified + gzipped size under a ceiling, and no
// runtime-specific identifier anywhere in it. Raise a ceiling only in the commit that causes the growth.
import { mkdirSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

// Kept as imports, not bundled, so an import of one shows up in the bundle's text.
const EXTERNAL = ["@opentelemetry/*"];

async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    write: false,
    treeShaking: true,
    external: EXTERNAL,
  });
  return result.outputFiles[0]?.text ?? "";
}

const FORBIDDEN = [
  "cloudflare:",
  "indexedDB",
  "BroadcastChannel",
  "WebSocketPair",
  "DurableObject",
  "process.",
  "require(",
  "navigator",
  "document.",
  "@opentelemetry", // only x3m-system/opentelemetry may import it
];

describe("bundle size", () => {
  it.each([
    ["the whole core", "export * from './src/index.ts';", 38_500],
    [
      "the messaging layer",
      "export { Message, Response, createNode, defineRouter, createInProcessHub } from './src/index.ts';",
      22_200,
    ],
    ["Message alone", "export { Message } from './src/index.ts';", 12_500],
    ["the in-process hub alone", "export { createInProcessHub } from './src/index.ts';", 1_200],
    // The edge client runs in browsers: never the server side of the edge (`cloudflare:workers`, object
    // classes). Most of its size is the frame decoder every node has anyway; tickets and the live channel
    // (hello's limit, pokes, refusals) are about 1.3 kB of it.
    ["the edge client", "export { edgeTransport } from './adapters/edge-client/index.ts';", 15_000],
  ])("%s stays under its gzip ceiling and has no runtime globals", async (_, code, ceilingBytes) => {
    const entry = `test/node/.generated/size-${ceilingBytes}.ts`;
    mkdirSync("test/node/.generated", { recursive: true });
    writeFileSync(entry, code.replaceAll("./src/", "../../../src/").replaceAll("./adapters/", "../../../adapters/"));
    const text = await bundle(entry);
    const gzipped = gzipSync(text).byteLength;
    expect(gzipped, `gzip size is now ${gzipped} bytes`).toBeLessThan(ceilingBytes);
    for (const identifier of FORBIDDEN) expect(text, `bundle contains ${identifier}`).not.toContain(identifier);
  });

  it("x3m-system/opentelemetry (with the core it uses) stays under its ceiling and imports only @opentelemetry/api", async () => {
    const entry = "test/node/.generated/size-opentelemetry.ts";
    mkdirSync("test/node/.generated", { recursive: true });
    writeFileSync(entry, "export * from '../../../adapters/opentelemetry/index.ts';");
    const text = await bundle(entry);
    const gzipped = gzipSync(text).byteLength;
    expect(gzipped, `gzip size is now ${gzipped} bytes`).toBeLessThan(3_000);
    expect([...new Set(text.match(/@opentelemetry\/[\w-]+/g))]).toEqual(["@opentelemetry/api"]);
    for (const identifier of FORBIDDEN.filter((name) => name !== "@opentelemetry")) {
      expect(text, `bundle contains ${identifier}`).not.toContain(identifier);
    }
  });
});
