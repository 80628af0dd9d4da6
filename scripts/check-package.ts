// Part of `npm run build`: checks the built package as a consumer sees it, through its own name (package
// self-reference goes through the `exports` map, as a consumer's import would):
// 1. every subpath that loads outside a Workers bundle is imported by name in plain Node and exercised;
// 2. every browser-facing subpath is bundled by esbuild for the browser with no externals, and must not
//    pull any `cloudflare:` module;
// 3. the Workers-only subpath (`/durable-objects`) is bundled as wrangler would, `cloudflare:*` external.
import assert from "node:assert/strict";
import { build } from "esbuild";
import { createNode, defineRouter, Message, type TransportLink } from "x3m-system";
import { VirtualClock } from "x3m-system/testing";

// ---- 1. plain Node imports -------------------------------------------------------------------------

const node = createNode({ clock: new VirtualClock() });
node.register(defineRouter({ name: "check", services: { ping: (msg) => msg.ok("pong") }, authorize: () => true }));
const reply = await node.dispatch(Message.new("ping"));
assert.deepEqual(reply.response, { status: "ok", payload: "pong" });
await node.close();
// The browser entry points load in any runtime (they touch browser APIs only when called).
const tabs = await import("x3m-system/broadcast-channel");
const offline = await import("x3m-system/indexeddb");
assert.equal(typeof tabs.broadcastChannelTransport, "function");
assert.equal(typeof offline.createOfflineClient, "function");
assert.equal(typeof offline.openIndexedDbEventStore, "function");

// The edge client: it opens its socket with a token or a fresh ticket in the URL (a fake WebSocket class records it).
const edgeClient = await import("x3m-system/edge-client");
const opened: string[] = [];
class RecordingSocket {
  readonly readyState = 0;
  constructor(url: string) {
    opened.push(url);
  }
  send(): void {}
  close(): void {}
  addEventListener(): void {}
}
const transport = edgeClient.edgeTransport({
  url: "wss://edge.example/x3m/ws",
  getToken: () => "t-1",
  WebSocket: RecordingSocket,
});
transport.open({
  nodeId: "check",
  receive: () => {},
  peerJoined: () => {},
  peerLeft: () => {},
} satisfies TransportLink);
for (let i = 0; i < 10 && opened.length === 0; i++) await Promise.resolve();
assert.deepEqual(opened, ["wss://edge.example/x3m/ws?token=t-1"]);
transport.close();
// With tickets (preferred): a fresh one from `POST <url>/ticket` before the socket, in the URL instead of a token.
const asked: string[] = [];
const ticketed = edgeClient.edgeTransport({
  url: "wss://edge.example/x3m/ws",
  tickets: {
    headers: () => ({ authorization: "Bearer session" }),
    fetch: (async (input: string) => {
      asked.push(input);
      return Response.json({ ticket: "k-1", expiresAt: 0 });
    }) as typeof fetch,
  },
  WebSocket: RecordingSocket,
});
ticketed.track([{ aggregate: "account", id: "acc-1" }]); // remembered until the edge says hello
ticketed.open({ nodeId: "check", receive: () => {}, peerJoined: () => {}, peerLeft: () => {} });
for (let i = 0; i < 50 && opened.length === 1; i++) await new Promise((resolve) => setTimeout(resolve, 1));
assert.deepEqual(asked, ["https://edge.example/x3m/ws/ticket"]);
assert.deepEqual(opened.slice(1), ["wss://edge.example/x3m/ws?ticket=k-1"]);
ticketed.close();

// The OpenTelemetry entry point loads with its optional peer installed, and records through the global (no-op) tracer.
const otel = await import("x3m-system/opentelemetry");
const traced = createNode({ clock: new VirtualClock() });
const stopRecording = otel.recordSpans(traced.telemetry);
traced.register(
  defineRouter({
    name: "traced",
    services: otel.withMessageContext({ ping: (msg) => msg.ok() }),
    authorize: () => true,
  }),
);
assert.equal((await traced.dispatch(otel.stampTraceparent(Message.new("ping")))).response?.status, "ok");
stopRecording();
await traced.close();

// ---- 2. browser bundles: no externals, no `cloudflare:` ----------------------------------------------

/** Bundles `import * from <subpath>` the way an app's bundler would; answers the output and what it exports. */
async function bundle(subpath: string, options: { platform: "browser" | "neutral"; external?: string[] }) {
  const result = await build({
    stdin: { contents: `export * from "${subpath}";`, resolveDir: process.cwd(), loader: "js" },
    bundle: true,
    write: false,
    format: "esm",
    metafile: true,
    logLevel: "silent",
    // tsconfig.json maps the package's names to the sources (for the tests): resolve through `exports` instead.
    tsconfigRaw: "{}",
    platform: options.platform,
    ...(options.platform === "neutral" ? { mainFields: ["module", "main"], conditions: ["workerd", "worker"] } : {}),
    external: options.external ?? [],
  });
  const text = result.outputFiles[0]?.text ?? "";
  const exported = Object.values(result.metafile.outputs)[0]?.exports ?? [];
  const inputs = Object.keys(result.metafile.inputs);
  return { text, exported, inputs };
}

const BROWSER_FACING = [
  ["x3m-system", "createNode"],
  ["x3m-system/testing", "VirtualClock"],
  ["x3m-system/broadcast-channel", "broadcastChannelTransport"],
  ["x3m-system/indexeddb", "createOfflineClient"],
  ["x3m-system/edge-client", "edgeTransport"],
  ["x3m-system/opentelemetry", "recordSpans"],
] as const;
for (const [subpath, expected] of BROWSER_FACING) {
  let bundled: Awaited<ReturnType<typeof bundle>>;
  try {
    bundled = await bundle(subpath, { platform: "browser" });
  } catch (error) {
    const errors = (error as { errors?: { text: string }[] }).errors?.map((e) => e.text).join("; ");
    throw new Error(`${subpath} does not bundle for the browser with no externals: ${errors ?? String(error)}`);
  }
  assert.ok(!bundled.text.includes("cloudflare:"), `${subpath}'s browser bundle pulls a cloudflare: module`);
  assert.ok(
    bundled.inputs.every((input) => !input.includes("adapters/durable-objects")),
    `${subpath}'s browser bundle pulls the Durable Objects adapter`,
  );
  assert.ok(bundled.exported.includes(expected), `${subpath}'s bundle does not export ${expected}`);
  assert.ok(
    bundled.inputs.some((input) => input.startsWith("dist/")),
    `${subpath} resolved to the sources, not to dist/`,
  );
}

// ---- 3. the Workers-only subpath, bundled as wrangler does -------------------------------------------

const workers = await bundle("x3m-system/durable-objects", { platform: "neutral", external: ["cloudflare:*"] });
for (const name of ["defineAggregateObject", "createEdgeWorker", "createSqlEventStore", "edgeTransport"]) {
  assert.ok(workers.exported.includes(name), `x3m-system/durable-objects does not export ${name}`);
}

console.log(
  "package check: x3m-system, /testing, /broadcast-channel, /indexeddb, /edge-client and /opentelemetry import by name from dist/ in Node " +
    "and bundle for the browser with no externals and no cloudflare: module; /durable-objects bundles for Workers " +
    "(cloudflare:* external) and still exports edgeTransport",
);
