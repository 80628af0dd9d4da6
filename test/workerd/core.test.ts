// The core runs unchanged inside workerd: messages, routers, the dispatcher and the in-process hub.
import { describe, expect, it } from "vitest";
import { createInProcessHub, createNode, defineRouter, Message } from "../../src/index.ts";
import { transportContract } from "../../src/testing/index.ts";

const quorum = (name: string, accept: boolean) =>
  defineRouter({
    name,
    services: {
      commit: (msg) => (accept ? msg.ok(name) : msg.return({ status: "try_another_node", reason: "quorum_not_met" })),
    },
    authorize: () => true,
  });

describe("core in workerd", () => {
  it("is running in workerd, not Node", () => {
    expect(navigator.userAgent).toBe("Cloudflare-Workers");
  });

  it("dispatches between nodes over the hub and tries another node", async () => {
    const hub = createInProcessHub();
    const [caller, rejecting, accepting] = ["caller", "rejecting", "accepting"].map((id) => createNode({ id }));
    rejecting?.register(quorum("rejecting", false));
    accepting?.register(quorum("accepting", true));
    for (const node of [caller, rejecting, accepting]) await node?.connect(hub.transport());
    await new Promise((resolve) => setTimeout(resolve, 10));
    const reply = await caller?.dispatch(Message.new("commit"));
    expect(reply?.response).toEqual({ status: "ok", payload: "accepting" });
    for (const node of [caller, rejecting, accepting]) await node?.close();
  });

  it("round-trips a message through JSON and rejects a prototype key", () => {
    const msg = Message.new("greet", { rawRequest: { name: "Ada" } }).assign("user", "u-1");
    expect(Message.parse(JSON.parse(JSON.stringify(msg))).toJSON()).toEqual(msg.toJSON());
    expect(() => Message.parse(JSON.parse('{"serviceName":"x","id":"1","rawRequest":{"__proto__":{"a":1}}}'))).toThrow(
      /forbidden key/,
    );
  });
});

describe("transport contract in workerd: in-process hub", () => {
  for (const contractCase of transportContract(() => {
    const hub = createInProcessHub();
    return { transports: [hub.transport(), hub.transport(), hub.transport()], dispose: () => {} };
  })) {
    it(contractCase.name, () => contractCase.run());
  }
});
