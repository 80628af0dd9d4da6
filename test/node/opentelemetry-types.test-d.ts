import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { stampTraceparent, withMessageContext } from "../../adapters/opentelemetry/index.ts";
import { defineRouter, Message, type NoReply, noReply } from "../../src/index.ts";

describe("x3m-system/opentelemetry types", () => {
  it("stampTraceparent keeps the message's request type", () => {
    const typed = Message.new("x").putRequest(z.object({ amount: z.number() }));
    expectTypeOf(stampTraceparent(typed)).toEqualTypeOf<Message<{ amount: number }>>();
    expectTypeOf(stampTraceparent(Message.new("x"))).toEqualTypeOf<Message<unknown>>();
  });

  it("withMessageContext keeps a handler's type and a services map's keys, so the router stays typed", () => {
    const handler = async (msg: Message): Promise<Message | NoReply> => (msg.valid ? msg.ok() : noReply);
    expectTypeOf(withMessageContext(handler)).toEqualTypeOf(handler);
    const services = withMessageContext({ place: (msg: Message) => msg.ok(), cancel: (msg: Message) => msg.ok() });
    expectTypeOf(services).toHaveProperty("place");
    const router = defineRouter({ name: "orders", services, authorize: () => true });
    expectTypeOf(router.registeredServices("public")).toEqualTypeOf<Array<"place" | "cancel">>();
  });
});
