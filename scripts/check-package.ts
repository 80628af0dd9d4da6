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
console.log("package check: x3m-system, /testing, /broadcast-channel and /indexeddb import from dist/");
