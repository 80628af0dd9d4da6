import { describe, expect, it } from "vitest";
import {
  createNode,
  currentLogContext,
  defineRouter,
  Message,
  noReply,
  Response,
  type TelemetryEvent,
} from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";
import { firstRouter, gate } from "./fixtures.ts";

function localNode() {
  const clock = new VirtualClock();
  const node = createNode({ id: "n1", clock, announceIntervalMs: 0 });
  node.register(firstRouter);
  return { node, clock };
}

describe("router", () => {
  it("lists services in declaration order; all = private then public", () => {
    expect(firstRouter.registeredServices("public")).toEqual([
      "first",
      "unauthorized_service",
      "custom_unauthorized",
      "admin_only",
      "quorum",
    ]);
    expect(firstRouter.registeredServices("private")).toEqual(["private_service"]);
    expect(firstRouter.registeredServices("all")).toEqual([
      "private_service",
      ...firstRouter.registeredServices("public"),
    ]);
    expect(firstRouter.registeredServices()).toEqual(firstRouter.registeredServices("all"));
  });

  it("rejects bad definitions", () => {
    const handler = (msg: Message) => msg.ok();
    expect(() => defineRouter({ name: "" })).toThrow(/not a valid router name/);
    expect(() => defineRouter({ name: "r", services: { "bad name": handler } })).toThrow(/not a valid service name/);
    expect(() => defineRouter({ name: "r", services: { a: handler }, privateServices: { a: handler } })).toThrow(
      /both public and private/,
    );
    expect(() => defineRouter({ name: "r", services: { a: "nope" as never } })).toThrow(/not a function/);
  });

  it("denies by default", async () => {
    const router = defineRouter({ name: "closed", services: { s: (msg) => msg.ok() } });
    expect(await router.authorize(Message.new("s"))).toEqual({ allowed: false, reason: "forbidden" });
  });

  it("denies when authorize throws", async () => {
    const router = defineRouter({
      name: "throws",
      services: { s: (msg) => msg.ok() },
      authorize: () => {
        throw new Error("db down");
      },
    });
    expect(await router.authorized(Message.new("s"))).toBe(false);
  });

  it("awaits an async authorize, and any thenable it returns (not taken for a denial reason)", async () => {
    // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a native Promise, on purpose
    const thenable = (verdict: unknown) => ({ then: (resolve: (value: unknown) => void) => resolve(verdict) });
    const router = (authorize: () => unknown) =>
      defineRouter({ name: "r", services: { s: (msg) => msg.ok() }, authorize: authorize as () => boolean });
    expect(await router(async () => true).authorize(Message.new("s"))).toEqual({ allowed: true });
    expect(await router(() => thenable(true)).authorize(Message.new("s"))).toEqual({ allowed: true });
    expect(await router(() => thenable("login required")).authorize(Message.new("s"))).toEqual({
      allowed: false,
      reason: "login required",
    });
    // biome-ignore lint/suspicious/noThenProperty: a rejecting thenable, on purpose
    const rejecting = { then: (_: unknown, reject: (error: unknown) => void) => reject(new Error("db down")) };
    expect(await router(() => rejecting).authorize(Message.new("s"))).toEqual({ allowed: false, reason: "forbidden" });
  });

  it("two routers may not register the same service on one node", () => {
    const node = createNode({ announceIntervalMs: 0 });
    node.register(firstRouter);
    node.register(firstRouter);
    const clash = defineRouter({ name: "clash", services: { first: (msg) => msg.ok() }, authorize: () => true });
    expect(() => node.register(clash)).toThrow(/already registered by router "first_router"/);
  });
});

describe("dispatch (local)", () => {
  it("answers service_unavailable marked unknown for a service it never heard of (a mistyped name)", async () => {
    const { node } = localNode();
    const reply = await node.dispatch(Message.new("wrong_service"));
    expect(reply.response).toEqual({ status: "service_unavailable", service: "wrong_service", unknown: true });
    expect(Response.isUnknownService(reply.response)).toBe(true);
    expect(reply.halted).toBe(true);
  });

  it("answers the router's denial, marked denied whatever the reason: default, false, and a custom reason", async () => {
    const closed = createNode({ announceIntervalMs: 0 });
    closed.register(defineRouter({ name: "closed", services: { s: (msg) => msg.ok() } }));
    expect((await closed.dispatch(Message.new("s"))).response).toEqual({
      status: "error",
      reason: "forbidden",
      denied: true,
    });
    const { node } = localNode();
    expect((await node.dispatch(Message.new("unauthorized_service"))).response).toEqual(Response.forbidden());
    const custom = (await node.dispatch(Message.new("custom_unauthorized"))).response;
    expect(custom).toEqual({ status: "error", reason: { forbidden: "None shall pass!" }, denied: true });
    expect(Response.isDenied(custom)).toBe(true);
  });

  it("a handler's own error is not a denial, even with the reason forbidden", async () => {
    const node = createNode({ announceIntervalMs: 0 });
    node.register(defineRouter({ name: "r", services: { s: (msg) => msg.error("forbidden") }, authorize: () => true }));
    const { response } = await node.dispatch(Message.new("s"));
    expect(response).toEqual({ status: "error", reason: "forbidden" });
    expect(Response.isDenied(response)).toBe(false);
  });

  it("the denial mark survives the wire: JSON and a peer's reply", async () => {
    const denied = Message.new("s").return(Response.denied("login required"));
    expect(Message.parse(JSON.parse(JSON.stringify(denied))).response).toEqual(Response.denied("login required"));
    const unknown = Message.new("s").return(Response.unknownService("s"));
    expect(Message.parse(JSON.parse(JSON.stringify(unknown))).response).toEqual(Response.unknownService("s"));
  });

  it("serves local public and private services", async () => {
    const { node } = localNode();
    expect((await node.dispatch(Message.new("first"))).response).toEqual({ status: "ok", payload: "from_first" });
    expect((await node.dispatch(Message.new("private_service"))).response).toEqual({
      status: "ok",
      payload: "from_private",
    });
  });

  it("turns a local try_another_node into no_nodes_available", async () => {
    const { node } = localNode();
    expect((await node.dispatch(Message.new("quorum"))).response).toEqual({
      status: "no_nodes_available",
      tried: [{ node: "local", reason: "quorum_not_met" }],
    });
  });

  it("a try_another_node without a reason still sends the call on (whether anyone listens or not)", async () => {
    for (const listening of [false, true]) {
      const node = createNode({ announceIntervalMs: 0 });
      if (listening) node.telemetry.on("*", () => {});
      node.register(
        defineRouter({
          name: "r",
          services: { s: (msg) => msg.return(Response.tryAnotherNode(undefined)) },
          authorize: () => true,
        }),
      );
      expect((await node.dispatch(Message.new("s"))).response).toEqual({
        status: "no_nodes_available",
        tried: [{ node: "local", reason: undefined }],
      });
      await node.close();
    }
  });

  it("returns a halted message untouched, with or without options", async () => {
    const { node } = localNode();
    const halted = Message.new("first").error("already done");
    expect(await node.dispatch(halted)).toBe(halted);
    expect(await node.dispatch(halted, { timeoutMs: 10 })).toBe(halted);
    expect(await node.validate(halted)).toBe(halted);
  });

  it("stamps invokedAt with the node's clock and originNode with its id", async () => {
    const { node, clock } = localNode();
    const reply = await node.dispatch(Message.new("first"));
    expect(reply.invokedAt).toBe(clock.now());
    expect(reply.originNode).toBe("n1");
  });

  it("strips request from replies, and events unless the dry run is verbose", async () => {
    const node = createNode({ announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: "events",
        services: {
          emit: (msg) =>
            msg
              .putInRawRequest("x", 1)
              .with({ request: { parsed: true } })
              .addEvent("e1")
              .ok(),
        },
        authorize: () => true,
      }),
    );
    const plain = await node.dispatch(Message.new("emit"));
    expect(plain.events).toEqual([]);
    expect(plain.request).toBeUndefined();
    const verbose = await node.dispatch(Message.new("emit", { dryRun: "verbose" }));
    expect(verbose.events).toEqual(["e1"]);
    expect(verbose.request).toBeUndefined();
  });

  it("turns a handler exception into an error response, never a hang", async () => {
    const node = createNode({ announceIntervalMs: 0 });
    const failures: TelemetryEvent[] = [];
    node.telemetry.on("handler_failed", (e) => failures.push(e));
    node.register(
      defineRouter({
        name: "broken",
        services: {
          sync: () => {
            throw new TypeError("bad input");
          },
          async: async () => {
            throw new Error("db down");
          },
          wrong: () => 42 as never,
        },
        authorize: () => true,
      }),
    );
    expect((await node.dispatch(Message.new("sync"))).response).toEqual({
      status: "error",
      reason: { exception: { name: "TypeError", message: "bad input" } },
    });
    expect((await node.dispatch(Message.new("async"))).response).toMatchObject({ status: "error" });
    expect((await node.dispatch(Message.new("wrong"))).response).toEqual({
      status: "error",
      reason: "invalid_handler_result",
    });
    expect(failures.map((e) => e.metadata.service)).toEqual(["sync", "async", "wrong"]);
  });

  it("times out with service_timeout (service, message id, ms) on a virtual clock", async () => {
    const clock = new VirtualClock();
    const node = createNode({ clock, announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: "silent",
        services: { silent: () => noReply, slow: () => new Promise<never>(() => {}) },
        authorize: () => true,
      }),
    );
    const msg = Message.new("silent");
    const pending = node.dispatch(msg, { timeoutMs: 250 });
    await clock.advance(249);
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    await clock.advance(0);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect((await pending).response).toEqual({
      status: "service_timeout",
      service: "silent",
      messageId: msg.id,
      timeoutMs: 250,
    });
    const slow = node.dispatch(Message.new("slow"));
    await clock.advance(5_000);
    expect((await slow).response).toMatchObject({ status: "service_timeout", timeoutMs: 5_000 });
  });

  it("drops a local reply that comes after the timeout, and counts it", async () => {
    const clock = new VirtualClock();
    const node = createNode({ clock, announceIntervalMs: 0 });
    const { opened, open: release } = gate();
    node.register(
      defineRouter({
        name: "late",
        services: {
          late: async (msg) => {
            await opened;
            return msg.ok("late");
          },
        },
        authorize: () => true,
      }),
    );
    const late: TelemetryEvent[] = [];
    node.telemetry.on("late_reply_dropped", (e) => late.push(e));
    const pending = node.dispatch(Message.new("late"), { timeoutMs: 100 });
    await clock.advance(100);
    expect((await pending).response?.status).toBe("service_timeout");
    release();
    await clock.advance(0);
    expect(late).toHaveLength(1);
  });

  it("re-enters the message's log context while the handler runs", async () => {
    const node = createNode({ announceIntervalMs: 0 });
    node.register(
      defineRouter({ name: "ctx", services: { ctx: (msg) => msg.ok(currentLogContext()) }, authorize: () => true }),
    );
    const reply = await node.dispatch(Message.new("ctx", { logContext: { requestId: "r-9" } }));
    expect(reply.response).toEqual({ status: "ok", payload: { requestId: "r-9" } });
  });
});

describe("authorized, validate, discover", () => {
  it("authorized: true / true / false / false / service_unavailable, and assigns-based", async () => {
    const { node } = localNode();
    expect(await node.authorized(Message.new("first"))).toBe(true);
    expect(await node.authorized(Message.new("private_service"))).toBe(true);
    expect(await node.authorized(Message.new("unauthorized_service"))).toBe(false);
    expect(await node.authorized(Message.new("custom_unauthorized"))).toBe(false);
    expect(await node.authorized(Message.new("wrong_service"))).toBe("service_unavailable");
    expect(await node.authorized(Message.new("admin_only").assign("invokedBy", { admin: true }))).toBe(true);
    expect(await node.authorized(Message.new("admin_only"))).toBe(false);
  });

  it("validate sets dryRun true and keeps the handler's response; keeps verbose", async () => {
    const { node } = localNode();
    const validated = await node.validate(Message.new("first"));
    expect(validated.dryRun).toBe(true);
    expect(validated.response).toEqual({ status: "ok", payload: "from_first" });
    expect((await node.validate(Message.new("first", { dryRun: "verbose" }))).dryRun).toBe("verbose");
  });

  it("discover lists the local provider, or nothing", () => {
    const { node } = localNode();
    expect(node.discover(Message.new("first"))).toEqual([{ node: "local", router: "first_router" }]);
    expect(node.discover(Message.new("nope"))).toEqual([]);
  });

  it("a closed node refuses new work with NODE_CLOSED", async () => {
    const { node } = localNode();
    await node.close();
    await expect(node.dispatch(Message.new("first"))).rejects.toMatchObject({ code: "NODE_CLOSED" });
  });
});
