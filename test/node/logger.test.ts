// The optional logger: structured entries with a level, a stable event name and the message's log
// context; silent by default; a logger that throws never breaks a call.
import { describe, expect, it } from "vitest";
import {
  createAggregateHost,
  createInProcessHub,
  createMemoryEventStore,
  createNode,
  defineAggregate,
  defineRouter,
  type LogEntry,
  levelFilter,
  Message,
  noReply,
  silentLogger,
} from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";
import { settle } from "./fixtures.ts";

function recording() {
  const entries: LogEntry[] = [];
  return { entries, logger: { log: (entry: LogEntry) => entries.push(entry) } };
}

describe("node logger", () => {
  it("warns when no node offers the service, with the message's log context", async () => {
    const { entries, logger } = recording();
    const node = createNode({ id: "n1", logger, announceIntervalMs: 0 });
    const msg = Message.new("depsit", { logContext: { requestId: "r-42" } });
    await node.dispatch(msg);
    await node.cast(Message.new("depsit", { logContext: { requestId: "r-43" } }));
    expect(entries).toEqual([
      {
        level: "warn",
        event: "service_not_found",
        message: 'no node offers service "depsit"',
        context: { requestId: "r-42" },
        data: { service: "depsit", node: "n1", messageId: msg.id, unknown: true },
      },
      expect.objectContaining({ event: "service_not_found", context: { requestId: "r-43" } }),
    ]);
    expect(node.logger).toBe(logger);
    await node.close();
  });

  it("logs a failing handler as an error and a rejected frame as a warning", async () => {
    const { entries, logger } = recording();
    const hub = createInProcessHub();
    const node = createNode({ id: "n1", logger, announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: "r",
        services: {
          boom: () => {
            throw new Error("disk full");
          },
        },
        authorize: () => true,
      }),
    );
    await node.connect(hub.transport());
    await node.dispatch(Message.new("boom", { logContext: { user: "ada" } }));
    hub.inject("n1", "{ not json");
    await settle();
    expect(entries.map((e) => [e.level, e.event])).toEqual([
      ["error", "handler_failed"],
      ["warn", "frame_rejected"],
    ]);
    expect(entries[0]).toMatchObject({ context: { user: "ada" }, data: { service: "boom", node: "n1" } });
    expect(entries[0]?.message).toContain("disk full");
    expect(entries[1]?.data).toMatchObject({ transport: "in-process-hub", code: "INVALID_FRAME" });
    await node.close();
  });

  it("logs a late answer at debug level", async () => {
    const { entries, logger } = recording();
    const clock = new VirtualClock();
    let answer: () => void = () => {};
    const node = createNode({ clock, logger, announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: "r",
        services: {
          late: (msg) =>
            new Promise((resolve) => {
              answer = () => resolve(msg.ok());
            }),
          silent: () => noReply,
        },
        authorize: () => true,
      }),
    );
    const pending = node.dispatch(Message.new("late"), { timeoutMs: 10 });
    await clock.advance(10);
    await pending;
    answer();
    await settle();
    expect(entries.map((e) => [e.level, e.event])).toEqual([["debug", "late_reply_dropped"]]);
    await node.close();
  });

  it("is silent by default, and a throwing logger never breaks a call", async () => {
    expect(createNode().logger).toBe(silentLogger);
    const node = createNode({
      announceIntervalMs: 0,
      logger: {
        log() {
          throw new Error("logger down");
        },
      },
    });
    expect((await node.dispatch(Message.new("nobody"))).response).toMatchObject({ status: "service_unavailable" });
    await node.close();
  });

  it("levelFilter keeps entries at or above its level", () => {
    const kept: string[] = [];
    const logger = levelFilter("warn", (entry) => kept.push(entry.level));
    for (const level of ["debug", "info", "warn", "error"] as const) {
      logger.log({ level, event: "e", message: "m", context: {}, data: {} });
    }
    expect(kept).toEqual(["warn", "error"]);
  });
});

describe("aggregate host logger", () => {
  const counter = defineAggregate({
    name: "counter",
    initialState: () => ({ count: 0 }),
    apply: (state: { count: number }, _event: { type: "Added" }) => ({ count: state.count + 1 }),
    commands: { add: (msg) => msg.addEvent({ type: "Added" }).ok() },
  });

  it("warns when a message already processed is delivered again, and answers it as the first time", async () => {
    const { entries, logger } = recording();
    const host = createAggregateHost(counter, { store: createMemoryEventStore(), logger });
    const add = host.onMaybeNew("add");
    const msg = Message.new("add", { rawRequest: { id: "c-1" }, logContext: { requestId: "r-7" } });
    const first = await add(msg);
    const again = await add(msg);
    expect((again as Message).response).toEqual((first as Message).response);
    expect(entries).toEqual([
      {
        level: "warn",
        event: "already_processed",
        message: `message ${msg.id} already processed`,
        context: { requestId: "r-7" },
        data: { aggregate: "counter", id: "c-1", service: "add", messageId: msg.id },
      },
    ]);
    expect((await host.getState("c-1"))?.state).toEqual({ count: 1 });
    host.close();
  });

  it("shares the node's logger", async () => {
    const { entries, logger } = recording();
    const node = createNode({ logger, announceIntervalMs: 0 });
    const host = createAggregateHost(counter, { store: createMemoryEventStore(), logger: node.logger });
    node.register(defineRouter({ name: "c", services: { add: host.onMaybeNew("add") }, authorize: () => true }));
    const msg = Message.new("add", { rawRequest: { id: "c-1" } });
    await node.dispatch(msg);
    await node.dispatch(msg);
    expect(entries.map((e) => e.event)).toEqual(["already_processed"]);
    host.close();
    await node.close();
  });
});
