// Message.fromTrusted: the message rebuilt from data the app's own code produced (a Durable Object RPC
// from its Worker), without validating it again; never a way around `parse` for client input.
import { describe, expect, it } from "vitest";
import { isSdkClientError, Message, type MessageData } from "../../src/index.ts";

describe("Message.fromTrusted", () => {
  it("rebuilds what toJSON gave, as parse would, after a structured clone (an RPC)", () => {
    const sent = Message.new("deposit", { rawRequest: { id: "acc-1", amount: 5 } })
      .assign("principal", { user: "ada" })
      .prepareAggregateId("id");
    const data = structuredClone(sent.toJSON());
    const trusted = Message.fromTrusted(data);
    expect(trusted).toBeInstanceOf(Message);
    expect(trusted.toJSON()).toEqual(Message.parse(data).toJSON());
    expect(trusted.toJSON()).toEqual(sent.toJSON());
    expect(Message.fromTrusted(sent)).toBe(sent);
  });

  it("fills what an older sender left out, as parse does", () => {
    const trusted = Message.fromTrusted({ serviceName: "ping", id: "m-1" } as MessageData);
    expect(trusted).toMatchObject({
      correlationId: "m-1",
      causationId: "m-1",
      dryRun: false,
      events: [],
      halted: false,
    });
  });

  it("refuses data that is not a message at all with INVALID_MESSAGE", () => {
    for (const data of [undefined, null, {}, { id: 1, serviceName: "x" }, { id: "m-1" }]) {
      let thrown: unknown;
      try {
        Message.fromTrusted(data as unknown as MessageData);
      } catch (error) {
        thrown = error;
      }
      expect(isSdkClientError(thrown) && thrown.code).toBe("INVALID_MESSAGE");
    }
  });
});
