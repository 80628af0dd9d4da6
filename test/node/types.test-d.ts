import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  type AnyRouter,
  type AuthorizedAnswer,
  type CastResult,
  type CreatedResponse,
  defineRouter,
  type ErrorResponse,
  Message,
  noReply,
  type RepeatHandle,
  Response,
  type ScheduleClient,
  type Scheduler,
  type SystemNode,
  type TopicDelivery,
} from "../../src/index.ts";

describe("Message types", () => {
  it("an untyped message has an unknown request and a loosely typed raw request", () => {
    const msg = Message.new("x", { rawRequest: { name: "Ada" } });
    expectTypeOf(msg).toEqualTypeOf<Message<unknown>>();
    expectTypeOf(msg.request).toBeUnknown();
    expectTypeOf(msg.rawRequest.name).toBeAny();
  });

  it("putRequest types the request from the schema", () => {
    const schema = z.object({ name: z.string(), amount: z.number() });
    const msg = Message.new("x").putRequest(schema);
    expectTypeOf(msg).toEqualTypeOf<Message<{ name: string; amount: number }>>();
    expectTypeOf(msg.request.amount).toBeNumber();
    expectTypeOf(msg.assign("k", 1)).toEqualTypeOf<Message<{ name: string; amount: number }>>();
    expectTypeOf(Message.new("x").putRequestAsync(schema)).resolves.toEqualTypeOf<
      Message<{ name: string; amount: number }>
    >();
  });

  it("messages are readonly", () => {
    const msg = Message.new("x");
    // @ts-expect-error: fields are readonly
    msg.halted = true;
    // @ts-expect-error: events are a readonly array
    msg.events.push(1);
  });
});

describe("Response types", () => {
  it("guards narrow the union", () => {
    const response = Message.new("x").created("a").response;
    if (Response.isCreated(response)) expectTypeOf(response).toEqualTypeOf<CreatedResponse>();
    if (Response.is(response, "error")) expectTypeOf(response).toEqualTypeOf<ErrorResponse>();
    if (response?.status === "service_timeout") expectTypeOf(response.timeoutMs).toBeNumber();
  });

  it("the union is closed: an unknown status is a compile error", () => {
    // @ts-expect-error: "teapot" is not a status
    Response.is(null, "teapot");
  });
});

describe("Router types", () => {
  const router = defineRouter({
    name: "accounts",
    services: { open: (msg) => msg.created("a-1"), close: async (msg) => msg.ok() },
    privateServices: { audit: () => noReply },
    authorize: () => true,
  });

  it("handlers get a typed message from context", () => {
    defineRouter({
      name: "r",
      services: {
        s: (msg) => {
          expectTypeOf(msg).toEqualTypeOf<Message<unknown>>();
          return msg.ok();
        },
      },
    });
  });

  it("registeredServices knows the service names", () => {
    expectTypeOf(router.registeredServices("public")).toEqualTypeOf<Array<"open" | "close">>();
    expectTypeOf(router.registeredServices("private")).toEqualTypeOf<Array<"audit">>();
    expectTypeOf(router.registeredServices("all")).toEqualTypeOf<Array<"open" | "close" | "audit">>();
    expectTypeOf(router).toExtend<AnyRouter>();
  });

  it("a handler must return a Message or noReply", () => {
    // @ts-expect-error: a string is not a reply
    defineRouter({ name: "bad", services: { s: () => "ok" } });
  });

  it("node.register takes any router; dispatch resolves to a Message", () => {
    expectTypeOf<SystemNode["register"]>().parameters.toEqualTypeOf<AnyRouter[]>();
    expectTypeOf<SystemNode["dispatch"]>().returns.resolves.toEqualTypeOf<Message>();
    expectTypeOf<SystemNode["authorized"]>().returns.resolves.toEqualTypeOf<
      boolean | "service_unavailable" | "service_timeout" | "unreachable"
    >();
    expectTypeOf<SystemNode["authorized"]>().returns.resolves.toEqualTypeOf<AuthorizedAnswer>();
  });
});

describe("mesh types", () => {
  it("cast results and topic deliveries narrow on their discriminant", () => {
    const node = {} as SystemNode;
    expectTypeOf(node.cast(Message.new("x"))).resolves.toEqualTypeOf<CastResult>();
    const result = {} as CastResult;
    if (result.accepted) expectTypeOf(result.node).toBeString();
    else expectTypeOf(result.response).toEqualTypeOf<Response>();
    const delivery = {} as TopicDelivery;
    if (delivery.ok) expectTypeOf(delivery.reply).toEqualTypeOf<Message>();
    else expectTypeOf(delivery.reason).toBeUnknown();
    expectTypeOf(node.state).toEqualTypeOf<"running" | "draining" | "stopped">();
    expectTypeOf(node.subscribe("t", "s")).toEqualTypeOf<() => void>();
  });

  it("the memory scheduler is a ScheduleClient: repeat gives a handle with cancel", () => {
    const scheduler = {} as Scheduler;
    expectTypeOf(scheduler).toMatchTypeOf<ScheduleClient>();
    expectTypeOf(scheduler.repeat(Message.new("x"), { everyMs: 1_000 })).resolves.toEqualTypeOf<RepeatHandle>();
    // @ts-expect-error: a repeat needs its period
    void scheduler.repeat(Message.new("x"), { firstInMs: 0 });
  });
});
