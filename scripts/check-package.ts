// Part of `npm run build`: imports the built package by its own name (package self-reference goes
// through the `exports` map, as a consumer's import would) and runs a dispatch with each entry point.
import assert from "node:assert/strict";
import { createNode, defineRouter, Message } from "x3m-system";
import { VirtualClock } from "x3m-system/testing";

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
console.log("package check: x3m-system/opentelemetry imports from dist/");
console.log("package check: x3m-system, /testing, /broadcast-channel and /indexeddb import from dist/");
