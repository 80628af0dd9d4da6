// Timeouts are never silently shortened: Infinity means no timer, any finite value is waited out in full
// (runtimes turn a delay above 2^31−1 ms into 1 ms), and a value that is not a duration is refused.
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createNode,
  defineRouter,
  isSdkClientError,
  MAX_TIMER_DELAY_MS,
  Message,
  Response,
  systemClock,
} from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";
import { createCluster, gate } from "./fixtures.ts";

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** A node whose service answers only when the test opens the gate. */
function slowNode(clock = systemClock) {
  const door = gate();
  const node = createNode({ clock, announceIntervalMs: 0 });
  node.register(
    defineRouter({
      name: "slow",
      services: {
        slow: async (msg) => {
          await door.opened;
          return msg.ok("late but there");
        },
      },
      authorize: () => true,
    }),
  );
  return { node, door };
}

/** Lets real timers of a few milliseconds fire (a 1 ms timeout would have fired by then). */
const realMilliseconds = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("dispatch timeouts", () => {
  it.each([
    ["Infinity", Number.POSITIVE_INFINITY],
    ["2^31 ms (above the runtimes' timer limit)", 2 ** 31],
    ["a year", 365 * 86_400_000],
  ])("timeoutMs %s waits for the answer instead of timing out after 1 ms", async (_, timeoutMs) => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    const { node, door } = slowNode();
    const pending = node.dispatch(Message.new("slow"), { timeoutMs });
    await realMilliseconds(20);
    door.open();
    const reply = await pending;
    process.off("warning", onWarning);
    expect(reply.response).toEqual({ status: "ok", payload: "late but there" });
    expect(warnings).not.toContain("TimeoutOverflowWarning");
    await node.close();
  });

  it("Infinity arms no timer at all, for dispatch, cast, publish and authorized alike", async () => {
    const clock = new VirtualClock();
    const { node, door } = slowNode(clock);
    node.subscribe("news", "slow");
    const options = { timeoutMs: Number.POSITIVE_INFINITY };
    const pending = [
      node.dispatch(Message.new("slow"), options),
      node.publish("news", Message.new("n"), options),
      node.cast(Message.new("slow"), options),
      node.authorized(Message.new("slow"), options),
    ] as const;
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(100 * 365 * 86_400_000);
    door.open();
    const [reply, deliveries, cast, authorized] = await Promise.all(pending);
    expect(reply.response).toEqual({ status: "ok", payload: "late but there" });
    expect(deliveries).toMatchObject([{ node: "local", service: "slow", ok: true }]);
    expect(cast).toEqual({ accepted: true, node: "local" });
    expect(authorized).toBe(true);
    await node.close();
  });

  it("the node's default timeoutMs may be Infinity too", async () => {
    const clock = new VirtualClock();
    const node = createNode({ clock, announceIntervalMs: 0, timeoutMs: Number.POSITIVE_INFINITY });
    node.register(defineRouter({ name: "r", services: { s: async (msg) => msg.ok() }, authorize: () => true }));
    expect((await node.dispatch(Message.new("s"))).response).toEqual({ status: "ok" });
    expect(clock.pendingTimers).toBe(0);
    await node.close();
  });

  it.each([
    ["NaN", Number.NaN],
    ["a negative number", -1],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["a string", "5000" as unknown as number],
  ])("refuses %s with INVALID_OPTIONS instead of a 1 ms timer", async (_, timeoutMs) => {
    const { node } = slowNode();
    const refusal = await node.dispatch(Message.new("slow"), { timeoutMs }).catch((error: unknown) => error);
    expect(isSdkClientError(refusal) && refusal.code).toBe("INVALID_OPTIONS");
    await expect(node.cast(Message.new("slow"), { timeoutMs })).rejects.toThrow(/timeoutMs/);
    await expect(node.authorized(Message.new("slow"), { timeoutMs })).rejects.toThrow(/timeoutMs/);
    expect(() => createNode({ timeoutMs })).toThrow(/timeoutMs/);
    await node.close();
  });

  it("a finite timeout still expires, with its exact limit in the response", async () => {
    const clock = new VirtualClock();
    const { node } = slowNode(clock);
    const pending = node.dispatch(Message.new("slow"), { timeoutMs: 2 ** 31 + 5 });
    await clock.advance(2 ** 31 + 4);
    await clock.advance(1);
    const reply = await pending;
    expect(reply.response).toEqual(Response.serviceTimeout("slow", reply.id, 2 ** 31 + 5));
    await node.close();
  });
});

describe("systemClock with long delays", () => {
  it("never hands the runtime a delay above 2^31−1 ms, and fires once the whole delay has passed", () => {
    vi.useFakeTimers();
    const delays: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((callback: () => void, delay?: number) => {
      delays.push(delay ?? 0);
      return realSetTimeout(callback, delay);
    }) as typeof setTimeout);
    let fired = 0;
    systemClock.setTimeout(() => fired++, 2 * MAX_TIMER_DELAY_MS + 10);
    vi.advanceTimersByTime(2 * MAX_TIMER_DELAY_MS + 9);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_DELAY_MS);
  });

  it("a long delay can be cancelled at any step", () => {
    vi.useFakeTimers();
    let fired = 0;
    const cancel = systemClock.setTimeout(() => fired++, MAX_TIMER_DELAY_MS + 10);
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS + 1); // the second step is armed now
    cancel();
    vi.advanceTimersByTime(100);
    expect(fired).toBe(0);
  });

  it("Infinity never fires and arms nothing", () => {
    const spy = vi.spyOn(globalThis, "setTimeout");
    systemClock.setTimeout(() => {
      throw new Error("must not fire");
    }, Number.POSITIVE_INFINITY);
    expect(spy).not.toHaveBeenCalled();
  });
});

describe("service_timeout responses", () => {
  it("are JSON-safe: a non-finite limit is refused with INVALID_OPTIONS", () => {
    for (const limit of [Number.POSITIVE_INFINITY, Number.NaN, -5]) {
      expect(() => Response.serviceTimeout("s", "m", limit)).toThrow(/finite limit/);
    }
    const response = Response.serviceTimeout("s", "m", 2 ** 31);
    expect(JSON.parse(JSON.stringify(response))).toEqual(response);
  });
});

describe("node.authorized when the provider cannot be asked", () => {
  it("answers service_timeout, not false, when the remote check does not answer in time", async () => {
    await using cluster = await createCluster(["caller", "provider"]);
    cluster.node("provider").register(
      defineRouter({
        name: "stuck",
        services: { s: (msg) => msg.ok() },
        authorize: () => new Promise<boolean>(() => {}), // never decides
      }),
    );
    await cluster.settle();
    const pending = cluster.node("caller").authorized(Message.new("s"), { timeoutMs: 100 });
    await cluster.clock.advance(100);
    expect(await pending).toBe("service_timeout");
  });

  it("answers unreachable, not false, when the provider goes down mid-check", async () => {
    await using cluster = await createCluster(["caller", "provider"]);
    const asked = gate();
    cluster.node("provider").register(
      defineRouter({
        name: "stuck",
        services: { s: (msg) => msg.ok() },
        authorize: () => {
          asked.open();
          return new Promise<boolean>(() => {});
        },
      }),
    );
    await cluster.settle();
    const pending = cluster.node("caller").authorized(Message.new("s"));
    await asked.opened;
    cluster.hub.disconnect("provider");
    expect(await pending).toBe("unreachable");
  });

  it("still answers the verdict itself: true, false, service_unavailable", async () => {
    await using cluster = await createCluster(["caller", "provider"]);
    cluster.node("provider").register(
      defineRouter({
        name: "r",
        services: { open: (msg) => msg.ok(), shut: (msg) => msg.ok() },
        authorize: (msg) => msg.serviceName === "open" || "closed today",
      }),
    );
    await cluster.settle();
    const caller = cluster.node("caller");
    expect(await caller.authorized(Message.new("open"))).toBe(true);
    expect(await caller.authorized(Message.new("shut"))).toBe(false);
    expect(await caller.authorized(Message.new("nobody"))).toBe("service_unavailable");
  });
});
