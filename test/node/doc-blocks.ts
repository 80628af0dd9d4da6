// The fenced code blocks of the project's Markdown, and the rule each must follow (see docs.test.ts).

/** Languages of TypeScript or JavaScript code: such a block either runs in a test or is type-checked. */
export const CODE_LANGUAGES = new Set(["ts", "typescript", "js", "javascript", "tsx", "jsx", "mts"]);

/**
 * Languages exempt from the rule: configuration, shell commands and markup are not TypeScript, and nothing
 * here could run or type-check them (Getting started's are written out and used by its browser test).
 */
export const EXEMPT_LANGUAGES = new Set(["toml", "json", "jsonc", "sh", "bash", "shell", "html"]);

/**
 * Guides whose code blocks are files of an app (`<!-- file: src/worker.ts -->`), and the test that writes them
 * into an empty folder, type-checks them with the guide's own settings and runs them: such a block is tested
 * there instead of in docs.test.ts.
 */
export const FILE_BLOCK_TESTS: Readonly<Record<string, string>> = {
  "docs/getting-started.md": "test/browser/getting-started.test.ts",
};

/** What must stand on the visible line right before a ```text block: it says the block is not a program. */
export const SIGNATURE_LIST_MARK = "(not a program):";

export interface DocBlock {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly language: string;
  /** The block's text, with the fence's indentation removed. */
  readonly code: string;
  /** The last non-blank line before the fence, trimmed. */
  readonly before: string;
  /**
   * `<!-- example: name -->` (runs in docs.test.ts), `<!-- compile: name -->` (type-checked there) or
   * `<!-- file: path -->` (a file of an app, in a guide of `FILE_BLOCK_TESTS`), or
   * `<!-- excerpt: guide path -->` (lines of such a file, quoted elsewhere: `name` is "guide path").
   */
  readonly marker?: { readonly kind: "example" | "compile" | "file" | "excerpt"; readonly name: string };
}

const MARKER = /^<!--\s*(example|compile):\s*([a-z0-9][a-z0-9-]*)\s*-->$/;
const FILE_MARKER = /^<!--\s*file:\s*(\S+)\s*-->$/;
const EXCERPT_MARKER = /^<!--\s*excerpt:\s*(\S+ \S+)\s*-->$/;
/** A line of an excerpt that stands for the lines of the file it leaves out. */
export const ELISION = "// …";
const FENCE = /^(\s*)```(\S*)\s*$/;

/** Every fenced block of `text` (a Markdown file named `file`). An unclosed fence is an error. */
export function blocksOf(file: string, text: string): DocBlock[] {
  const lines = text.split("\n");
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] as string);
    if (!open) continue;
    const indent = open[1] as string;
    const language = open[2] as string;
    const end = lines.findIndex((line, j) => j > i && line.trim() === "```");
    if (end < 0) throw new Error(`${file}:${i + 1}: unclosed code fence`);
    const code = lines
      .slice(i + 1, end)
      .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line.trimStart()))
      .join("\n");
    let k = i - 1;
    while (k >= 0 && (lines[k] as string).trim() === "") k--;
    const before = k >= 0 ? (lines[k] as string).trim() : "";
    const marked = MARKER.exec(before);
    const fileMarked = FILE_MARKER.exec(before);
    const excerptMarked = EXCERPT_MARKER.exec(before);
    const marker = marked
      ? { kind: marked[1] as "example" | "compile", name: marked[2] as string }
      : fileMarked
        ? { kind: "file" as const, name: fileMarked[1] as string }
        : excerptMarked
          ? { kind: "excerpt" as const, name: excerptMarked[1] as string }
          : undefined;
    blocks.push({ file, line: i + 1, language, code: `${code}\n`, before, ...(marker ? { marker } : {}) });
    i = end;
  }
  return blocks;
}

/** Markers that are not followed by a code block (a typo, or a block that was removed). */
export function strayMarkersOf(file: string, text: string): string[] {
  const lines = text.split("\n");
  const problems: string[] = [];
  lines.forEach((line, i) => {
    // A marker is a line of its own (one quoted in prose, inside backticks, is text).
    if (!/^<!--\s*(example|compile)\b/.test(line.trim())) return;
    const next = lines.slice(i + 1).find((l) => l.trim() !== "");
    if (!MARKER.test(line.trim()) || next === undefined || !FENCE.test(next)) {
      problems.push(
        `${file}:${i + 1}: a marker must be "<!-- example: name -->" or "<!-- compile: name -->" right before a code block`,
      );
    }
  });
  return problems;
}

/** What is wrong with `block` under the rule (empty when it follows it). */
export function problemOf(block: DocBlock): string | undefined {
  const where = `${block.file}:${block.line}`;
  if (block.language === "") return `${where}: a code fence without a language (use ts, text, toml, sh, …)`;
  if (block.marker?.kind === "file") {
    return FILE_BLOCK_TESTS[block.file] || !CODE_LANGUAGES.has(block.language)
      ? undefined
      : `${where}: <!-- file: … --> blocks are tested only in ${Object.keys(FILE_BLOCK_TESTS).join(", ")}: use <!-- example: name --> or <!-- compile: name -->`;
  }
  if (block.marker?.kind === "excerpt") {
    const [guide] = block.marker.name.split(" ");
    return FILE_BLOCK_TESTS[guide as string]
      ? undefined
      : `${where}: <!-- excerpt: guide path --> quotes only files of ${Object.keys(FILE_BLOCK_TESTS).join(", ")}`;
  }
  if (CODE_LANGUAGES.has(block.language)) {
    if (block.marker) return undefined;
    return `${where}: a ${block.language} block without <!-- example: name --> (runs in docs.test.ts) or <!-- compile: name --> (type-checked) right before it`;
  }
  if (block.marker) return `${where}: a ${block.language} block cannot run or type-check: drop its marker`;
  if (block.language === "text") {
    return block.before.endsWith(SIGNATURE_LIST_MARK)
      ? undefined
      : `${where}: a text block must follow a line ending in "${SIGNATURE_LIST_MARK}" (a signature list), or be code with a marker`;
  }
  if (EXEMPT_LANGUAGES.has(block.language)) return undefined;
  return `${where}: unknown fence language "${block.language}"`;
}

/**
 * What is wrong with an excerpt (empty when nothing): its parts, split at `// …` lines, must be runs of
 * whole lines of `source` (the quoted file), in the file's order; indentation may differ.
 */
export function excerptProblemOf(block: DocBlock, source: string): string | undefined {
  const where = `${block.file}:${block.line}`;
  const sourceLines = source.split("\n").map((line) => line.trim());
  const parts: string[][] = [[]];
  for (const line of block.code.trimEnd().split("\n")) {
    if (line.trim() === ELISION) parts.push([]);
    else parts.at(-1)?.push(line.trim());
  }
  let from = 0;
  for (const part of parts.filter((lines) => lines.length > 0)) {
    const at = sourceLines.findIndex(
      (_, start) => start >= from && part.every((line, k) => sourceLines[start + k] === line),
    );
    if (at < 0) return `${where}: this part of the excerpt is not in ${block.marker?.name} (in order): ${part[0]}`;
    from = at + part.length;
  }
  return undefined;
}

/** Whether a block needs the Workers runtime's typings (it imports the Durable Objects adapter or a `cloudflare:` module). */
export function needsWorkers(code: string): boolean {
  return /from\s+"(x3m-system\/durable-objects|cloudflare:[a-z-]+)"/.test(code);
}
