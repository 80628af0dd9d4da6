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
console.log("package check: x3m-system and x3m-system/testing import and dispatch from dist/");
