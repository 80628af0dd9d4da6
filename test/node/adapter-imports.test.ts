// Adapters reach the core only through its entry points (what `x3m-system` and `x3m-system/testing`
// export), never by path into its internals: what an adapter needs is public API, so a third-party
// adapter could do the same. Biome's noRestrictedImports says so in the editor; this test holds every form
// of import (static, type-only, re-export, dynamic) to it.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const ENTRY_POINTS = new Set(["src/index.ts", "src/testing/index.ts"]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Every module specifier a file names: `import … from`, `export … from`, `import("…")`. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["']([^"']+)["']/g)) found.push(match[1] as string);
  return found;
}

/** The core files an adapter file names, as paths from the repository root. */
function coreImports(file: string): string[] {
  return specifiers(readFileSync(file, "utf8"))
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => relative(ROOT, resolve(dirname(file), specifier)))
    .filter((path) => path.startsWith("src/"));
}

describe("adapters and the core", () => {
  const files = sourceFiles(join(ROOT, "adapters"));

  it("finds the adapters' sources", () => {
    expect(files.length).toBeGreaterThan(30);
  });

  it("adapters import only the core's entry points", () => {
    const offending = files.flatMap((file) =>
      coreImports(file)
        .filter((path) => !ENTRY_POINTS.has(path))
        .map((path) => `${relative(ROOT, file)} -> ${path}`),
    );
    expect(offending).toEqual([]);
  });

  it("the check sees every form of import", () => {
    const text = [
      'import { a } from "../../src/aggregate/responses.ts";',
      'import type { B } from "../../src/node/caller.ts";',
      'export { c } from "../../src/ids.ts";',
      'const d = await import("../../src/clock.ts");',
    ].join("\n");
    expect(specifiers(text)).toEqual([
      "../../src/aggregate/responses.ts",
      "../../src/node/caller.ts",
      "../../src/ids.ts",
      "../../src/clock.ts",
    ]);
  });
});
