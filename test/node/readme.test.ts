// README's examples are executed here, so they cannot rot; and its telemetry table must list every event.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { TELEMETRY_EVENTS } from "../../src/index.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const readme = readFileSync(join(root, "README.md"), "utf8");

/** The ```ts block that follows the `<!-- example: name -->` marker in README. */
function example(name: string): string {
  const marker = `<!-- example: ${name} -->`;
  const start = readme.indexOf(marker);
  if (start < 0) throw new Error(`README has no ${marker}`);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(start));
  if (!block?.[1]) throw new Error(`no ts block after ${marker}`);
  return block[1];
}

/** Writes an example to a module (its `x3m-system` imports resolve to src/ through the vitest alias) and runs it. */
async function run(name: string, exportName: string): Promise<unknown> {
  const dir = join(root, "test/node/.generated");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `readme-${name}.ts`);
  writeFileSync(file, `${example(name)}\nexport const __result = ${exportName};\n`);
  return ((await import(file)) as { __result: unknown }).__result;
}

describe("README", () => {
  it("the hello-world example runs and answers as the README says", async () => {
    const code = example("hello");
    expect(code.split("\n").filter((line) => line.trim() !== "").length).toBeLessThanOrEqual(14);
    expect(await run("hello", "reply.response")).toEqual({ status: "ok", payload: "Hello, Ada!" });
  });

  it("the two-node example runs", async () => {
    expect(await run("cluster", "reply.response")).toEqual({ status: "ok", payload: "Hello from b, Ada!" });
  });

  it("the aggregate example runs and answers as its comments say", async () => {
    const result = (await run("aggregate", "{ reply: reply.response, current }")) as {
      reply: unknown;
      current: unknown;
    };
    expect(result.reply).toEqual({ status: "ok", version: 1 });
    expect(result.current).toEqual({ state: { owner: "Ada", balance: 10 }, version: 1 });
  });

  it("the projector example runs", async () => {
    expect(await run("projector", "{ caughtUp, balance: balances.get('acc-1') }")).toEqual({
      caughtUp: true,
      balance: 5,
    });
  });

  it("the sharded projector example runs: every stream once, one checkpoint per shard", async () => {
    expect(await run("sharded-projector", "{ caughtUp, totals: Object.fromEntries(totals) }")).toEqual({
      caughtUp: true,
      totals: { "acc-1": 1, "acc-2": 1, "acc-3": 1 },
    });
  });

  it("the mesh example runs: a publication, a cast and a drain", async () => {
    const result = (await run(
      "mesh",
      "{ deliveries: deliveries.map((d) => ({ node: d.node, service: d.service, response: d.ok && d.reply.response })), cast, state: mailer.state }",
    )) as Record<string, unknown>;
    expect(result).toEqual({
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
  });

  it("the traces example runs and its span is as its comment says", async () => {
    const [span] = (await run("traces", "spans")) as Array<Record<string, unknown>>;
    expect(span).toMatchObject({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      parentSpanId: "00f067aa0ba902b7",
      name: "greet",
      kind: 1,
    });
  });

  it("the OpenTelemetry example runs: the handler's span → the SDK's span → the app's span", async () => {
    try {
      const spans = (await run(
        "opentelemetry",
        "spans.map((s) => ({ name: s.name, kind: s.kind, id: s.spanContext().spanId, parent: s.parentSpanContext?.spanId }))",
      )) as Array<{ name: string; kind: number; id: string; parent?: string }>;
      const [reserve, place, checkout] = spans;
      expect(spans.map((s) => s.name)).toEqual(["reserve stock", "place", "checkout"]);
      expect(place?.kind).toBe(SpanKind.INTERNAL);
      expect(reserve?.parent).toBe(place?.id);
      expect(place?.parent).toBe(checkout?.id);
    } finally {
      trace.disable();
      context.disable();
    }
  });

  it("lists every telemetry event the SDK emits", () => {
    const table = readme.slice(readme.indexOf("## Telemetry"));
    for (const name of TELEMETRY_EVENTS) expect(table).toContain(`| \`${name}\``);
  });
});
