import { validate, version } from "uuid";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  currentLogContext,
  isSdkClientError,
  Message,
  newMessageId,
  Response,
  runWithLogContext,
  type StandardSchemaV1,
} from "../../src/index.ts";

describe("message ids", () => {
  it("are distinct, URL-safe and ordered by creation time", () => {
    const ids = Array.from({ length: 100 }, () => newMessageId());
    expect(new Set(ids).size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect([...ids].sort()).toEqual(ids);
  });
  it("are RFC 9562 UUIDv7 with the creation time in their first 48 bits, also thousands within one millisecond", () => {
    const before = Date.now();
    const ids = Array.from({ length: 5_000 }, () => newMessageId());
    const after = Date.now();
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) {
      expect(validate(id) && version(id)).toBe(7);
      const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
      expect(ms).toBeGreaterThanOrEqual(before);
      expect(ms).toBeLessThanOrEqual(after + 1); // one borrowed millisecond at most, after 2^32 ids
    }
  });
});

describe("Message.new", () => {
  it("has the original's defaults", () => {
    const msg = Message.new("create_job", { id: "m-1" });
    expect(msg).toMatchObject({
      serviceName: "create_job",
      id: "m-1",
      correlationId: "m-1",
      causationId: "m-1",
      dryRun: false,
      valid: true,
      halted: false,
      rawRequest: {},
      assigns: {},
      response: null,
      events: [],
      aggregateMeta: {},
      originNode: null,
    });
    expect(Message.new("x").id).not.toBe(Message.new("x").id);
  });

  it("defaults the causation id to the message's own id, as documented (the original used the correlation id)", () => {
    const msg = Message.new("x", { id: "m-2", correlationId: "c-1" });
    expect(msg.correlationId).toBe("c-1");
    expect(msg.causationId).toBe("m-2");
  });

  it("captures the current log context", () => {
    const msg = runWithLogContext({ requestId: "r-1" }, () => Message.new("x"));
    expect(msg.logContext).toEqual({ requestId: "r-1" });
    expect(currentLogContext()).toEqual({});
  });

  it("rejects invalid service names and dry-run modes", () => {
    expect(() => Message.new("")).toThrow(/not a valid service name/);
    expect(() => Message.new("__proto__")).toThrow(/not a valid service name/);
    expect(() => Message.new("x", { dryRun: "loud" as never })).toThrow(/dryRun/);
  });
});

describe("Message.causedBy", () => {
  it("keeps the parent's correlation id and uses the parent's id as causation id", () => {
    const parent = Message.new("parent", { id: "p-1", correlationId: "c-1", dryRun: true });
    const child = Message.causedBy("child", parent, { rawRequest: { a: 1 } });
    expect(child.correlationId).toBe("c-1");
    expect(child.causationId).toBe("p-1");
    expect(child.id).not.toBe("p-1");
    expect(child.rawRequest).toEqual({ a: 1 });
    expect(child.dryRun).toBe(false);
  });

  it("acts on behalf of the parent's caller: it carries the parent's assigns, unless given others", () => {
    const parent = Message.new("parent").assign("principal", { user: "ada" }).assign("locale", "fr");
    expect(Message.causedBy("child", parent).assigns).toEqual({ principal: { user: "ada" }, locale: "fr" });
    expect(Message.causedBy("child", parent.toJSON()).assigns).toEqual(parent.assigns);
    expect(Message.causedBy("child", parent, { assigns: {} }).assigns).toEqual({});
    expect(Message.causedBy("child", parent, { assigns: { principal: "system" } }).assigns).toEqual({
      principal: "system",
    });
    expect(Message.causedBy("child", parent).assigns).not.toBe(parent.assigns);
  });
});

describe("helpers", () => {
  it("return keeps events in insertion order, halts and sets the response", () => {
    const msg = Message.new("x").addEvent("first").addEvent("second").return(Response.ok());
    expect(msg.events).toEqual(["first", "second"]);
    expect(msg.halted).toBe(true);
    expect(msg.response).toEqual({ status: "ok" });
  });

  it("returning twice keeps the order (the original reversed the events on every return)", () => {
    const msg = Message.new("x").addEvent(1).addEvent(2).ok().addEvent(3).ok("again");
    expect(msg.events).toEqual([1, 2, 3]);
  });

  it("addEvent ignores null and undefined", () => {
    const msg = Message.new("x");
    expect(msg.addEvent(null)).toBe(msg);
    expect(msg.addEvent(undefined)).toBe(msg);
  });

  it("ok / created / error set the response and halt", () => {
    const msg = Message.new("x");
    expect(msg.ok()).toMatchObject({ response: { status: "ok" }, halted: true });
    expect(msg.ok(42)).toMatchObject({ response: { status: "ok", payload: 42 }, halted: true });
    expect(msg.created("a-1")).toMatchObject({ response: { status: "created", id: "a-1" }, halted: true });
    expect(msg.error("boom")).toMatchObject({ response: { status: "error", reason: "boom" }, halted: true });
  });

  it("toService keeps id and request; assign and putInRawRequest set one key", () => {
    const msg = Message.new("x", { rawRequest: { a: 1 } })
      .assign("user", "ada")
      .putInRawRequest("b", 2);
    const moved = msg.toService("y");
    expect(moved).toMatchObject({ serviceName: "y", id: msg.id, rawRequest: { a: 1, b: 2 }, assigns: { user: "ada" } });
  });

  it("refuses prototype keys in assign and putInRawRequest", () => {
    expect(() => Message.new("x").assign("__proto__", 1)).toThrow(/cannot be used as a key/);
    expect(() => Message.new("x").putInRawRequest("constructor", 1)).toThrow(/cannot be used as a key/);
  });

  it("is immutable: helpers return new messages and leave the original untouched", () => {
    const msg = Message.new("x");
    const changed = msg.assign("k", 1).addEvent("e").ok();
    expect(Object.isFrozen(msg)).toBe(true);
    expect(msg.assigns).toEqual({});
    expect(msg.events).toEqual([]);
    expect(msg.halted).toBe(false);
    expect(changed).not.toBe(msg);
    expect(() => {
      (msg as { halted: boolean }).halted = true;
    }).toThrow(TypeError);
  });
});

describe("putRequest", () => {
  const schema = z.object({ name: z.string().min(1), amount: z.number().positive() });

  it("stores a valid request, typed, without halting", () => {
    const msg = Message.new("x", { rawRequest: { name: "Ada", amount: 5 } }).putRequest(schema);
    expect(msg.valid).toBe(true);
    expect(msg.halted).toBe(false);
    expect(msg.request).toEqual({ name: "Ada", amount: 5 });
  });

  it("halts an invalid request with validation_error and its issues", () => {
    const msg = Message.new("x", { rawRequest: { name: "", amount: -1 } }).putRequest(schema);
    expect(msg.valid).toBe(false);
    expect(msg.halted).toBe(true);
    expect(msg.request).toBeUndefined();
    expect(msg.response?.status).toBe("validation_error");
    const issues = Response.isValidationError(msg.response) ? msg.response.issues : [];
    expect(issues.map((i) => i.path)).toEqual([["name"], ["amount"]]);
    expect(JSON.parse(JSON.stringify(issues))).toEqual(issues);
  });

  it("accepts any Standard Schema, and asks for putRequestAsync when validation is asynchronous", async () => {
    const asyncSchema: StandardSchemaV1<unknown, { ok: true }> = {
      "~standard": { version: 1, vendor: "test", validate: async () => ({ value: { ok: true } }) },
    };
    const msg = Message.new("x");
    let thrown: unknown;
    try {
      msg.putRequest(asyncSchema);
    } catch (error) {
      thrown = error;
    }
    expect(isSdkClientError(thrown) && thrown.code).toBe("ASYNC_SCHEMA");
    expect((await msg.putRequestAsync(asyncSchema)).request).toEqual({ ok: true });
  });
});

describe("prepareAggregateId", () => {
  it("reads a present id into aggregateMeta", () => {
    const msg = Message.new("x", { rawRequest: { id: "a-1" } }).prepareAggregateId("id");
    expect(msg.aggregateMeta).toEqual({ id: "a-1" });
    expect(msg.halted).toBe(false);
  });

  it("halts with missing_id when absent", () => {
    const msg = Message.new("x").prepareAggregateId("id");
    expect(msg.response).toEqual({ status: "missing_id", field: "id" });
    expect(msg.halted).toBe(true);
  });

  it("generates one into rawRequest and aggregateMeta, even with an empty raw request (the original crashed on nil)", () => {
    const msg = Message.new("x").prepareAggregateId("accountId", { generateIfMissing: true });
    expect(msg.aggregateMeta.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(msg.rawRequest.accountId).toBe(msg.aggregateMeta.id);
  });

  it("does not un-halt a halted message", () => {
    const msg = Message.new("x", { rawRequest: { id: "a" } })
      .error("earlier")
      .prepareAggregateId("id");
    expect(msg.halted).toBe(true);
  });
});

describe("serialization", () => {
  const full = Message.new("open_account", { rawRequest: { id: "a-1" }, dryRun: "verbose", logContext: { r: 1 } })
    .assign("user", { id: "u-1" })
    .addEvent({ type: "Opened" })
    .prepareAggregateId("id")
    .created("a-1");

  it("round-trips every field through JSON", () => {
    const back = Message.parse(JSON.parse(JSON.stringify(full)));
    expect(back.toJSON()).toEqual(full.toJSON());
    expect(back).toBeInstanceOf(Message);
  });

  it("round-trips through structured clone", () => {
    expect(Message.parse(structuredClone(full)).toJSON()).toEqual(full.toJSON());
    expect(Message.parse(structuredClone(full.toJSON())).toJSON()).toEqual(full.toJSON());
  });

  it("fills defaults for a minimal envelope", () => {
    const msg = Message.parse({ serviceName: "x", id: "m-1" });
    expect(msg).toMatchObject({
      correlationId: "m-1",
      causationId: "m-1",
      dryRun: false,
      halted: false,
      response: null,
    });
  });

  it.each([
    ["no service name", { id: "m" }],
    ["a wrong type", { serviceName: "x", id: "m", halted: "yes" }],
    ["an unknown dry-run mode", { serviceName: "x", id: "m", dryRun: "loud" }],
    ["an unknown response status", { serviceName: "x", id: "m", response: { status: "teapot" } }],
    ["a non-object", "not a message"],
  ])("rejects %s with INVALID_MESSAGE and its issues", (_, input) => {
    const result = Message.safeParse(input);
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe("INVALID_MESSAGE");
    expect(result.error?.message).toMatch(/^invalid message: /);
    expect(Array.isArray(result.error?.details)).toBe(true);
  });

  it("rejects prototype keys at any depth", () => {
    const hostile = JSON.parse('{"serviceName":"x","id":"m","assigns":{"deep":{"__proto__":{"admin":true}}}}');
    expect(Message.safeParse(hostile).error?.code).toBe("FORBIDDEN_KEY");
    expect(({} as { admin?: boolean }).admin).toBeUndefined();
  });
});
