import { describe, expect, it } from "vitest";
import { createInProcessHub, createNode, defineRouter, Message } from "../../src/index.ts";

describe("smoke", () => {
  it("dispatches locally and across the hub", async () => {
    const greeter = defineRouter({
      name: "greeter",
      services: { greet: (msg) => msg.ok(`Hello, ${msg.rawRequest.name}!`) },
      authorize: () => true,
    });
    const hub = createInProcessHub();
    const a = createNode({ id: "a" });
    const b = createNode({ id: "b" });
    a.register(greeter);
    await a.connect(hub.transport());
    await b.connect(hub.transport());
    const local = await a.dispatch(Message.new("greet", { rawRequest: { name: "Ada" } }));
    expect(local.response).toEqual({ status: "ok", payload: "Hello, Ada!" });
    await new Promise((r) => setTimeout(r, 10));
    const remote = await b.dispatch(Message.new("greet", { rawRequest: { name: "Bob" } }));
    expect(remote.response).toEqual({ status: "ok", payload: "Hello, Bob!" });
    await a.close();
    await b.close();
  });
});
