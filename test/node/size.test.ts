// The core bundle stays small and runtime-agnostic: minified + gzipped size under a ceiling, and no
// runtime-specific identifier anywhere in it. Raise a ceiling only in the commit that causes the growth.
import { mkdirSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    write: false,
    treeShaking: true,
  });
  return result.outputFiles[0]?.text ?? "";
}

const FORBIDDEN = [
  "indexedDB",
  "BroadcastChannel",
  "WebSocketPair",
  "DurableObject",
  "process.",
  "require(",
  "navigator",
  "document.",
];

describe("bundle size", () => {
  it.each([
    ["the whole core", "export * from './src/index.ts';", 33_500],
    [
      "the messaging layer",
      "export { Message, Response, createNode, defineRouter, createInProcessHub } from './src/index.ts';",
      20_000,
    ],
    ["Message alone", "export { Message } from './src/index.ts';", 12_500],
    ["the in-process hub alone", "export { createInProcessHub } from './src/index.ts';", 1_200],
  ])("%s stays under its gzip ceiling and has no runtime globals", async (_, code, ceilingBytes) => {
    const entry = `test/node/.generated/size-${ceilingBytes}.ts`;
    mkdirSync("test/node/.generated", { recursive: true });
    writeFileSync(entry, code.replaceAll("./src/", "../../../src/"));
    const text = await bundle(entry);
    const gzipped = gzipSync(text).byteLength;
    expect(gzipped, `gzip size is now ${gzipped} bytes`).toBeLessThan(ceilingBytes);
    for (const identifier of FORBIDDEN) expect(text, `bundle contains ${identifier}`).not.toContain(identifier);
  });
});
