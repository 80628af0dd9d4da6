// Browser-side scenarios for core.test.ts; bundled with esbuild and run inside the engine's pages.
import { createInProcessHub, createNode, defineRouter, Message } from "../../../src/index.ts";

const scenarios = {
  async dispatchOverHub() {
    const hub = createInProcessHub();
    const provider = createNode({ id: "provider" });
    const caller = createNode({ id: "caller" });
    provider.register(
      defineRouter({
        name: "greeter",
        services: { greet: (msg) => msg.ok(`Hello, ${msg.rawRequest.name}!`) },
        privateServices: { secret: (msg) => msg.ok("private") },
        authorize: () => true,
      }),
    );
    await provider.connect(hub.transport());
    await caller.connect(hub.transport());
    await new Promise((resolve) => setTimeout(resolve, 10));
    const greet = await caller.dispatch(Message.new("greet", { rawRequest: { name: "Ada" } }));
    const secret = await caller.dispatch(Message.new("secret"));
    await provider.close();
    await caller.close();
    return { userAgent: navigator.userAgent, greet: greet.response, secret: secret.response };
  },

  async cloneAndPost() {
    const msg = Message.new("open_account", { rawRequest: { id: "a-1" } })
      .assign("user", "ada")
      .addEvent({ type: "Opened" });
    const cloned = Message.parse(structuredClone(msg));
    const { port1, port2 } = new MessageChannel();
    const received = new Promise((resolve) => {
      port2.onmessage = (event) => resolve(event.data);
    });
    port1.postMessage(msg.toJSON());
    const posted = Message.parse(await received);
    return { original: msg.toJSON(), cloned: cloned.toJSON(), posted: posted.toJSON() };
  },
};

(globalThis as { scenarios?: unknown }).scenarios = scenarios;
