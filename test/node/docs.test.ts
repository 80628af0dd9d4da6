// The code in README.md and docs/*.md cannot rot: every TypeScript block either runs here and its result is
// checked (`<!-- example: name -->`), or is type-checked here with the TypeScript compiler (`<!-- compile: name -->`),
// or is a ```text signature list after a line ending in "(not a program):". Every example is type-checked too.
// The one other way: Getting started's `<!-- file: path -->` blocks are the files of its apps, written out,
// type-checked and run by its own browser test (FILE_BLOCK_TESTS); an `<!-- excerpt: guide path -->` elsewhere
// quotes such a file and is checked line for line against it. toml, json, sh and html blocks are exempt
// (configuration, shell commands and markup: not TypeScript). The links between the guides must resolve, and
// the telemetry table must list every event.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { context, SpanKind, trace } from "@opentelemetry/api";
// The browser examples (IndexedDB) run in Node on fake-indexeddb: its indexedDB and IDB classes as globals.
import "fake-indexeddb/auto";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { type Message, type Result, TELEMETRY_EVENTS } from "../../src/index.ts";
import {
  blocksOf,
  type DocBlock,
  excerptProblemOf,
  FILE_BLOCK_TESTS,
  needsWorkers,
  problemOf,
  strayMarkersOf,
} from "./doc-blocks.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const generated = join(root, "test/node/.generated/docs");

const docFiles = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`),
];
const texts = new Map(docFiles.map((file) => [file, readFileSync(join(root, file), "utf8")]));
const blocks = docFiles.flatMap((file) => blocksOf(file, texts.get(file) as string));
// The blocks this file runs or type-checks (a guide's `<!-- file: … -->` blocks are its own test's).
const named = blocks.filter(
  (block): block is DocBlock & { marker: { kind: "example" | "compile"; name: string } } =>
    block.marker !== undefined && (block.marker.kind === "example" || block.marker.kind === "compile"),
);

/** How one example is run: the expression whose value the example's module exports, and what it must be. */
interface Example {
  readonly result: string;
  check(value: unknown): void | Promise<void>;
  /** Runs after it, whatever happened (e.g. global state the example installed). */
  after?(): void;
}

const EXAMPLES: Record<string, Example> = {
  // README
  hello: {
    result: "reply.response",
    check(value) {
      const code = named.find((b) => b.marker.name === "hello")?.code ?? "";
      expect(code.split("\n").filter((line) => line.trim() !== "").length).toBeLessThanOrEqual(14);
      expect(value).toEqual({ status: "ok", payload: "Hello, Ada!" });
    },
  },
  // docs/messaging.md
  "message-helpers": {
    result:
      "{ msg, welcome, closing, inEuros, valid, invalid, withEvent, generated, missing, verbose, parsed, refused }",
    check(value) {
      type Helper = "msg" | "welcome" | "closing" | "inEuros" | "valid" | "invalid" | "withEvent" | "generated";
      const { refused, ...v } = value as Record<Helper | "missing" | "verbose" | "parsed", Message> & {
        refused: Result<Message>;
      };
      expect(v.welcome).toMatchObject({
        serviceName: "send_welcome_mail",
        correlationId: v.msg.correlationId,
        causationId: v.msg.id,
        assigns: { user: { user: "ada" } },
      });
      expect(v.closing).toMatchObject({ serviceName: "close_account", id: v.msg.id });
      expect(v.inEuros.rawRequest).toEqual({ id: "acc-1", owner: "Ada", currency: "EUR" });
      expect(v.valid).toMatchObject({ valid: true, halted: false, request: { id: "acc-1", owner: "Ada" } });
      expect(v.invalid).toMatchObject({ valid: false, halted: true, response: { status: "validation_error" } });
      expect(v.withEvent.events).toEqual([{ type: "AccountOpened" }]);
      expect(v.generated.aggregateMeta.id).toBe(v.generated.id);
      expect(v.generated.rawRequest.id).toBe(v.generated.id);
      expect(v.missing.response).toEqual({ status: "missing_id", field: "id" });
      expect(v.verbose.dryRun).toBe("verbose");
      expect(v.parsed.toJSON()).toEqual(v.msg.toJSON());
      expect(refused.ok || refused.error.code).toBe("FORBIDDEN_KEY");
    },
  },
  router: {
    result: "{ denied: denied.response, deposited: deposited.response, names }",
    check(value) {
      expect(value).toEqual({
        denied: { status: "error", reason: "login required", denied: true },
        deposited: { status: "ok", payload: { deposited: 5 } },
        names: [
          ["open_account", "deposit"],
          ["rebuild_index", "open_account", "deposit"],
        ],
      });
    },
  },
  "node-tour": {
    result: "{ charged: charged.response, checked: checked.response, anonymous, providers, peers }",
    check(value) {
      expect(value).toEqual({
        charged: { status: "ok", payload: { charged: 5 } },
        checked: { status: "ok" },
        anonymous: false,
        providers: [{ node: "billing-1", router: "billing" }],
        peers: ["billing-1"],
      });
    },
  },
  cluster: {
    result: "reply.response",
    check: (value) => expect(value).toEqual({ status: "ok", payload: "Hello from b, Ada!" }),
  },
  "node-order": {
    result: "{ reply: reply.response, seen }",
    check(value) {
      const { reply, seen } = value as { reply: unknown; seen: Array<{ node: string; router: string }> };
      expect(reply).toEqual({ status: "ok", payload: "from eu-1" });
      expect([...seen].sort((a, b) => a.node.localeCompare(b.node))).toEqual([
        { node: "eu-1", router: "pricing" },
        { node: "us-1", router: "pricing" },
      ]);
    },
  },
  registry: {
    result:
      "{ announced, local: { router: local?.router.name, entry: local?.entry.visibility }, remote, providers, heardOf }",
    check(value) {
      expect(value).toEqual({
        announced: [{ name: "send_mail", router: "mail" }],
        local: { router: "mail", entry: "private" },
        remote: { send_mail: { mailer: "mail" } },
        providers: [{ node: "mailer", router: "mail" }],
        heardOf: [true, false],
      });
    },
  },
  "watch-peers": {
    result: "{ changes, peersThen }",
    check(value) {
      expect(value).toEqual({
        peersThen: ["mailer"],
        changes: [
          { kind: "joined", node: "mailer" },
          { kind: "offered", node: "mailer", services: [] },
          { kind: "offered", node: "mailer", services: [{ name: "send_mail", router: "mail" }] },
          { kind: "draining", node: "mailer" },
          { kind: "left", node: "mailer", reason: "node_left" },
        ],
      });
    },
  },
  "pair-transport": {
    result: "reply.response",
    check: (value) => expect(value).toEqual({ status: "ok", payload: { said: "hi" } }),
  },
  "log-context": {
    result: "{ reply: reply.response, outside }",
    check: (value) => expect(value).toEqual({ reply: { status: "ok", payload: { requestId: "req-42" } }, outside: {} }),
  },
  logger: {
    result: "logged",
    check(value) {
      expect(value).toEqual([
        ["warn", "service_not_found", { requestId: "req-7" }],
        ["warn", "already_processed", {}],
      ]);
    },
  },
  errors: {
    result: "{ code, parsed: parsed.ok || parsed.error.code }",
    check: (value) => expect(value).toEqual({ code: "INVALID_ROUTER", parsed: "INVALID_MESSAGE" }),
  },
  // docs/aggregates.md
  aggregate: {
    result: "{ reply: reply.response, current }",
    check(value) {
      const result = value as { reply: unknown; current: unknown };
      expect(result.reply).toEqual({ status: "ok", version: 1 });
      expect(result.current).toEqual({ state: { owner: "Ada", balance: 10 }, version: 1 });
    },
  },
  "stream-name": {
    result: "streams",
    check: (value) => expect(value).toEqual([0, 0]),
  },
  "idempotency-window": {
    result: "{ again: (again as Message).response, current }",
    check(value) {
      expect(value).toEqual({
        again: { status: "ok", version: 0 },
        current: { state: { balance: 7 }, version: 2 },
      });
    },
  },
  "store-failure": {
    result: "{ failed: (failed as Message).response, retried: (retried as Message).response }",
    check(value) {
      expect(value).toEqual({
        failed: { status: "error", reason: { code: "save_failed", message: "disk full" } },
        retried: { status: "ok", version: 0 },
      });
    },
  },
  // docs/scheduler.md
  scheduler: {
    result: "{ delivered, cancelled, reportId: report.id, start: clock.now() - 2 * day }",
    check(value) {
      const { delivered, cancelled, reportId, start } = value as {
        delivered: string[];
        cancelled: boolean;
        reportId: string;
        start: number;
      };
      const hour = 3_600_000;
      expect(delivered).toEqual([
        `report ${reportId}.${start + 9 * hour}`,
        "expire o-1",
        `report ${reportId}.${start + 33 * hour}`,
      ]);
      expect(cancelled).toBe(true);
    },
  },
  "deposit-later": {
    result: "deposits",
    check: (value) => expect(value).toEqual([{ id: "acc-1", amount: 5, by: { user: "ada" } }]),
  },
  repeat: {
    result: "{ syncs, stopped }",
    check: (value) => expect(value).toEqual({ syncs: 3, stopped: true }),
  },
  // docs/projectors.md
  projector: {
    result: "{ caughtUp, balance: balances.get('acc-1') }",
    check: (value) => expect(value).toEqual({ caughtUp: true, balance: 5 }),
  },
  "sharded-projector": {
    result: "{ caughtUp, totals: Object.fromEntries(totals) }",
    check(value) {
      expect(value).toEqual({ caughtUp: true, totals: { "acc-1": 1, "acc-2": 1, "acc-3": 1 } });
    },
  },
  // docs/offline-sync.md: the browser's IndexedDB, in Node
  indexeddb: {
    result: "balance",
    check: (value) => expect(value).toEqual({ id: "account-acc-1", total: 5 }),
  },
  // docs/mesh.md
  mesh: {
    result:
      "{ deliveries: deliveries.map((d) => ({ node: d.node, service: d.service, response: d.ok && d.reply.response })), cast, state: mailer.state }",
    check(value) {
      expect(value).toEqual({
        deliveries: [
          {
            node: "mailer",
            service: "on_signup",
            response: { status: "ok", payload: "welcome queued for ada@example.com" },
          },
        ],
        cast: { accepted: true, node: "mailer" },
        state: "stopped",
      });
    },
  },
  traces: {
    result: "spans",
    check(value) {
      const [span] = value as Array<Record<string, unknown>>;
      expect(span).toMatchObject({
        traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        parentSpanId: "00f067aa0ba902b7",
        name: "greet",
        kind: 1,
      });
    },
  },
  acl: {
    result: "{ read, write, intern }",
    check(value) {
      expect(value).toEqual({
        read: { status: "ok", payload: 42 },
        write: { status: "error", reason: "forbidden", denied: true },
        intern: { status: "error", reason: { forbidden: "no-interns" }, denied: true },
      });
    },
  },
  // docs/telemetry.md
  telemetry: {
    result: "{ seen, listed, durations }",
    check(value) {
      expect(value).toEqual({
        seen: [
          "discovering_service",
          "service_found",
          "invoking_service",
          "service_request_received",
          "executing_service",
          "execution_finished",
          "service_responded",
        ],
        listed: true,
        durations: [expect.any(Number)],
      });
    },
  },
  opentelemetry: {
    result:
      "spans.map((s) => ({ name: s.name, kind: s.kind, id: s.spanContext().spanId, parent: s.parentSpanContext?.spanId }))",
    check(value) {
      const spans = value as Array<{ name: string; kind: number; id: string; parent?: string }>;
      const [reserve, place, checkout] = spans;
      expect(spans.map((s) => s.name)).toEqual(["reserve stock", "place", "checkout"]);
      expect(place?.kind).toBe(SpanKind.INTERNAL);
      expect(reserve?.parent).toBe(place?.id);
      expect(place?.parent).toBe(checkout?.id);
    },
    after() {
      trace.disable();
      context.disable();
    },
  },
  // docs/testing.md
  "aggregate-spec": {
    result: "{ balance: state.balance, replayed }",
    check: (value) =>
      expect(value).toEqual({ balance: 6, replayed: { state: { owner: "ada", balance: 10 }, version: 1 } }),
  },
  "projector-spec": {
    result: "notIdempotent",
    check: (value) => expect(value).toBe("projector spec"),
  },
  "contract-suite": {
    result: "{ failures, cases: eventStoreContract(() => countingStore()).length }",
    check(value) {
      const { failures, cases } = value as { failures: string[]; cases: number };
      expect(failures).toEqual([]);
      expect(cases).toBeGreaterThan(10);
    },
  },
  "virtual-clock": {
    result: "timedOut",
    check: (value) =>
      expect(value).toMatchObject({ status: "service_timeout", service: "never_answers", timeoutMs: 100 }),
  },
  "hub-faults": {
    result: "{ lost, answered, seen, peers }",
    check(value) {
      expect(value).toMatchObject({
        lost: { status: "service_timeout", service: "echo", timeoutMs: 100 },
        answered: { status: "ok" },
        seen: ["frame_rejected INVALID_FRAME", "node_left b"],
        peers: [],
      });
    },
  },
  "fake-indexeddb": {
    result: "events",
    check: (value) =>
      expect(value).toMatchObject([
        { stream: "account-1", version: 0, position: 1, type: "Deposited", data: { amount: 5 } },
      ]),
  },
};

// Every named block goes to its own module, `<name>.ts`, and an example exports the value its test checks. The
// guides' examples import Getting started's account module as `./account`: it is written next to them.
rmSync(generated, { recursive: true, force: true });
mkdirSync(generated, { recursive: true });
const accountModule = blocks.find((b) => b.file === "docs/getting-started.md" && b.marker?.name === "src/account.ts");
if (!accountModule) throw new Error("docs/getting-started.md has no <!-- file: src/account.ts --> block");
writeFileSync(join(generated, "account.ts"), accountModule.code);
for (const block of named) {
  const example = block.marker.kind === "example" ? EXAMPLES[block.marker.name] : undefined;
  const tail = example ? `\nexport const __result = ${example.result};\n` : "";
  writeFileSync(join(generated, `${block.marker.name}.ts`), `${block.code}${tail}`);
}

/** Imports an example's module (its `x3m-system` imports resolve to the source through the vitest alias). */
async function run(name: string): Promise<unknown> {
  return ((await import(join(generated, `${name}.ts`))) as { __result: unknown }).__result;
}

/** Where `x3m-system` and its subpaths are, for the type checker (as the vitest aliases for the examples). */
const PACKAGE_PATHS: Record<string, string[]> = {
  "x3m-system": [join(root, "src/index.ts")],
  "x3m-system/testing": [join(root, "src/testing/index.ts")],
  ...Object.fromEntries(
    ["broadcast-channel", "indexeddb", "edge-client", "opentelemetry", "durable-objects"].map((name) => [
      `x3m-system/${name}`,
      [join(root, `adapters/${name}/index.ts`)],
    ]),
  ),
};

/** The type errors in the generated modules `files`, compiled with the options of `tsconfig`. */
function typeErrors(files: readonly string[], tsconfig: string): string[] {
  if (files.length === 0) return [];
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(root, tsconfig),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
      },
    },
  );
  if (!parsed) throw new Error(`cannot read ${tsconfig}`);
  const options = { ...parsed.options, paths: PACKAGE_PATHS, noEmit: true, incremental: false };
  const program = ts.createProgram({ rootNames: files, options });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file?.fileName.startsWith(generated))
    .map((diagnostic) => {
      const file = diagnostic.file as ts.SourceFile;
      const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const name = relative(generated, file.fileName).replace(/\.ts$/, "");
      const block = named.find((b) => b.marker.name === name);
      const where = block ? `${block.file}:${block.line + 1 + line}` : file.fileName;
      return `${where} (${name}): ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`;
    });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a Markdown file's headings (a repeated heading gets `-1`, `-2`, … as on GitHub). */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  let inFence = false;
  for (const line of text.split("\n")) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const slug = slugOf(heading[1] as string);
    const seen = counts.get(slug) ?? 0;
    counts.set(slug, seen + 1);
    anchors.add(seen === 0 ? slug : `${slug}-${seen}`);
  }
  return anchors;
}

describe("code blocks of README.md and docs/", () => {
  it("every block runs here, is type-checked here, or is a marked signature list", () => {
    const problems = [
      ...blocks.map(problemOf).filter((problem) => problem !== undefined),
      ...docFiles.flatMap((file) => strayMarkersOf(file, texts.get(file) as string)),
    ];
    expect(problems).toEqual([]);
  });

  it("the rule catches an unmarked block, an unlabelled fence and an unmarked text block", () => {
    const markdown = [
      "<!-- example: fine -->",
      "```ts",
      "const a = 1;",
      "```",
      "Some prose:",
      "```ts",
      "const b = 2;",
      "```",
      "```",
      "c",
      "```",
      "Signatures:",
      "```text",
      "d()",
      "```",
      "Signatures (not a program):",
      "```text",
      "e()",
      "```",
      "```sh",
      "npm test",
      "```",
      "<!-- file: src/app.ts -->",
      "```ts",
      "export {};",
      "```",
    ].join("\n");
    const problems = blocksOf("x.md", markdown).map(problemOf);
    // The lines of the opening fences that break the rule: the unmarked ts block, the unlabelled one, the unmarked
    // text one, and a file block outside the guides whose test writes their files.
    expect(problems.map((problem) => problem?.split(":")[1])).toEqual([
      undefined,
      "6",
      "9",
      "13",
      undefined,
      undefined,
      "24",
    ]);
  });

  it("the guides whose blocks are an app's files are tested by a test that reads them", () => {
    for (const [guide, test] of Object.entries(FILE_BLOCK_TESTS)) {
      expect(readFileSync(join(root, test), "utf8")).toContain(guide);
    }
  });

  it("every excerpt quotes, line for line and in order, a file of a guide that a test builds and runs", () => {
    const excerpts = blocks.filter((block) => block.marker?.kind === "excerpt");
    expect(excerpts.length).toBeGreaterThan(0);
    for (const excerpt of excerpts) {
      const [guide, path] = (excerpt.marker?.name ?? "").split(" ");
      const source = blocks.find((b) => b.file === guide && b.marker?.kind === "file" && b.marker.name === path);
      expect(source, `${excerpt.file}:${excerpt.line}: ${guide} has no <!-- file: ${path} -->`).toBeDefined();
      expect(excerptProblemOf(excerpt, source?.code ?? "")).toBeUndefined();
    }
    // And an excerpt that drifts from its file is caught.
    const drifted = { ...(excerpts[0] as DocBlock), code: "const drifted = true;\n" };
    expect(excerptProblemOf(drifted, "const other = 1;\n")).toMatch(/is not in/);
  });

  it("every block's name is unique, and every example is run by a test here (and only those)", () => {
    const names = named.map((block) => block.marker.name);
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
    const examples = named.filter((block) => block.marker.kind === "example").map((block) => block.marker.name);
    expect([...examples].sort()).toEqual(Object.keys(EXAMPLES).sort());
  });

  it("every compile block and every example type-checks", () => {
    const files = named.map((block) => ({ block, path: join(generated, `${block.marker.name}.ts`) }));
    const errors = [
      ...typeErrors(
        files.filter((f) => !needsWorkers(f.block.code)).map((f) => f.path),
        "tsconfig.json",
      ),
      ...typeErrors(
        files.filter((f) => needsWorkers(f.block.code)).map((f) => f.path),
        "tsconfig.workers.json",
      ),
    ];
    expect(errors).toEqual([]);
  }, 120_000);
});

describe("examples", () => {
  for (const block of named.filter((b) => b.marker.kind === "example")) {
    const name = block.marker.name;
    const example = EXAMPLES[name];
    if (!example) continue; // reported by the test above
    it(`${name} (${block.file}:${block.line}) runs and answers as its comments say`, async () => {
      try {
        await example.check(await run(name));
      } finally {
        example.after?.();
      }
    });
  }
});

describe("links between the guides", () => {
  it("every relative link resolves to a file, and every anchor to a heading", () => {
    const problems: string[] = [];
    for (const file of docFiles) {
      const text = (texts.get(file) as string).replace(/```[\s\S]*?```/g, "");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue; // https:, mailto:
        const [path, anchor] = (target as string).split("#") as [string, string | undefined];
        const resolved = path === "" ? file : relative(root, resolve(dirname(join(root, file)), path));
        let targetText: string;
        try {
          targetText = texts.get(resolved) ?? readFileSync(join(root, resolved), "utf8");
        } catch {
          problems.push(`${file}: ${target}: no such file`);
          continue;
        }
        if (anchor !== undefined && !anchorsOf(targetText).has(anchor))
          problems.push(`${file}: ${target}: no such heading`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("what the guides say", () => {
  it("the telemetry guide lists every telemetry event the SDK emits", () => {
    const guide = texts.get("docs/telemetry.md") ?? "";
    for (const name of TELEMETRY_EVENTS) expect(guide).toContain(`| \`${name}\``);
  });

  it("no guide cites a file or a document a user of the package does not have", () => {
    const cited = [...texts].flatMap(([file, text]) =>
      [...text.matchAll(/\.\.\/shared|DESIGN\.md|STYLE\.md|field[ -]notes|the (behavioural )?reference\b/gi)].map(
        (match) => `${file}: "${match[0]}"`,
      ),
    );
    expect(cited).toEqual([]);
  });
});
