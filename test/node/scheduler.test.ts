import { describe, expect, it } from "vitest";
import { createNode, createTelemetry, defineRouter, Message, noReply, Response } from "../../src/index.ts";
import {
  type Alarm,
  type AlarmStore,
  createMemoryAlarmStore,
  createScheduler,
  type DeadLetter,
  defaultServiceResponded,
  deliveryOutcome,
  type SchedulerDispatcher,
  type SchedulerOptions,
} from "../../src/scheduler/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";
import { gate } from "./fixtures.ts";

const SECOND = 1_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Delivery {
  readonly id: string;
  /** ms after the test's start */
  readonly t: number;
  readonly attempts: unknown;
  readonly late: unknown;
  readonly dispatchAt: unknown;
}

/** A node serving `job` (answers ok) and `slow` (never answers), a memory store and a scheduler, on one virtual clock. */
function setup(options: Partial<SchedulerOptions> = {}) {
  const clock = new VirtualClock();
  const t0 = clock.now();
  const node = createNode({ id: "n1", clock, announceIntervalMs: 0 });
  const deliveries: Delivery[] = [];
  const record = (msg: Message): Delivery => ({
    id: msg.id,
    t: clock.now() - t0,
    attempts: msg.assigns.dispatchAttempts,
    late: msg.assigns.late,
    dispatchAt: msg.assigns.dispatchAt,
  });
  node.register(
    defineRouter({
      name: "jobs",
      services: {
        job: (msg) => {
          deliveries.push(record(msg));
          return msg.ok();
        },
        slow: () => noReply,
      },
      authorize: () => true,
    }),
  );
  const store = options.store ?? createMemoryAlarmStore();
  const responded: Message[] = [];
  const scheduler = createScheduler({
    dispatcher: node,
    clock,
    serviceResponded(resolved) {
      responded.push(resolved);
      return defaultServiceResponded(resolved);
    },
    ...options,
    store,
  });
  return { clock, t0, node, store, scheduler, deliveries, responded, record };
}

/** Records every `loadDue(until)` the scheduler asks for. */
function spyingOn(store: AlarmStore): AlarmStore & { readonly untils: number[] } {
  const untils: number[] = [];
  return {
    ...store,
    untils,
    loadDue(until) {
      untils.push(until);
      return store.loadDue(until);
    },
  };
}

const job = (id?: string) => Message.new("job", id === undefined ? {} : { id });

describe("scheduler: the original's behaviour (its test suite)", () => {
  it("start loads the window: every alarm due before now + 2 × interval, and arms only those", async () => {
    const store = spyingOn(createMemoryAlarmStore());
    const { scheduler, t0 } = setup({ store });
    await scheduler.schedule(job("soon"), { inMs: HOUR });
    await scheduler.schedule(job("later"), { inMs: 13 * HOUR });
    expect(store.untils).toEqual([]);
    await scheduler.start();
    expect(store.untils).toEqual([t0 + 12 * HOUR]);
    expect(scheduler.inMemoryCount).toBe(1);
  });

  it("inMs: saveAlarm sees attempts 0 and injects an assign; an unknown service is retried after the backoff", async () => {
    const saved: Message[] = [];
    const { scheduler, clock, t0, store, responded } = setup({
      retry: { initialDelayMs: 50 },
      saveAlarm(message, aggregateId) {
        saved.push(message);
        return message.assign("injected", aggregateId);
      },
    });
    await scheduler.start();
    const msg = Message.new("wrong_service");
    await scheduler.schedule(msg, { inMs: 50, aggregateId: "agg-1" });
    expect(saved.map((m) => [m.id, m.assigns])).toEqual([[msg.id, { dispatchAt: t0 + 50, dispatchAttempts: 0 }]]);

    await clock.advance(50);
    expect(responded).toHaveLength(1);
    expect(responded[0]?.response).toEqual(Response.unknownService("wrong_service"));
    expect(responded[0]?.assigns).toMatchObject({ dispatchAttempts: 1, injected: "agg-1", late: false });
    expect(await store.get(msg.id)).toMatchObject({ attempts: 1, dispatchAt: t0 + 100, aggregateId: "agg-1" });

    await clock.advance(50);
    expect(responded).toHaveLength(2);
    expect(responded[1]?.assigns).toMatchObject({ dispatchAttempts: 2, injected: "agg-1", dispatchAt: t0 + 50 });
    expect(responded[1]?.id).toBe(msg.id);
  });

  it("at: saveAlarm sees exactly that dispatchAt; the same retry sequence follows", async () => {
    const saved: Message[] = [];
    const { scheduler, clock, t0, responded } = setup({
      retry: { initialDelayMs: 50 },
      saveAlarm: (message) => {
        saved.push(message);
      },
    });
    await scheduler.start();
    await scheduler.schedule(Message.new("wrong_service"), { at: t0 + 1_234 });
    expect(saved[0]?.assigns).toEqual({ dispatchAt: t0 + 1_234, dispatchAttempts: 0 });
    await clock.advance(1_233);
    expect(responded).toHaveLength(0);
    await clock.advance(1);
    await clock.advance(50);
    expect(responded.map((m) => m.assigns.dispatchAttempts)).toEqual([1, 2]);
    expect(responded.map((m) => m.response?.status)).toEqual(["service_unavailable", "service_unavailable"]);
  });

  it("each dispatch gets the timeout dispatchTimeoutMs gives its message; a timeout is retried", async () => {
    const { scheduler, clock, t0, responded } = setup({
      dispatchTimeoutMs: (message) => (message.serviceName === "slow" ? 250 : 5_000),
    });
    await scheduler.start();
    const msg = Message.new("slow");
    await scheduler.schedule(msg, { inMs: 10 });
    await clock.advance(10 + 250);
    expect(responded[0]?.response).toEqual(Response.serviceTimeout("slow", msg.id, 250));
    expect(clock.now() - t0).toBe(260);
  });
});

describe("scheduler: fixes and additions", () => {
  it("the window rolls with the clock: now + 2 × interval at every reload, without drift", async () => {
    const store = spyingOn(createMemoryAlarmStore());
    const { scheduler, clock, t0, deliveries } = setup({ store, inMemoryIntervalMs: SECOND });
    for (const t of [500, 2_500, 4_500, 6_500]) await scheduler.schedule(job(`at-${t}`), { inMs: t });
    await scheduler.start();
    const inMemory = [scheduler.inMemoryCount];
    for (let i = 0; i < 6; i++) {
      await clock.advance(SECOND);
      inMemory.push(scheduler.inMemoryCount);
    }
    // The original drifted: t0+2 s, t0+4 s, t0+6 s… (its horizon grew by 2 intervals per interval).
    expect(store.untils.map((until) => until - t0)).toEqual([2, 3, 4, 5, 6, 7, 8].map((s) => s * SECOND));
    expect(inMemory).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(deliveries.map((d) => [d.id, d.t])).toEqual([
      ["at-500", 500],
      ["at-2500", 2_500],
      ["at-4500", 4_500],
    ]);
  });

  it("alarms a lax store returns outside the window are ignored until their window comes, never a crash", async () => {
    const inner = createMemoryAlarmStore();
    const lax: AlarmStore = { ...inner, loadDue: () => inner.loadDue(Number.POSITIVE_INFINITY) };
    const { scheduler, clock, deliveries } = setup({ store: lax });
    await scheduler.schedule(job("far"), { inMs: 3 * DAY });
    await scheduler.schedule(job("near"), { inMs: HOUR });
    await scheduler.start();
    expect(scheduler.inMemoryCount).toBe(1);
    await clock.advance(3 * DAY);
    expect(deliveries.map((d) => [d.id, d.t, d.late])).toEqual([
      ["near", HOUR, false],
      ["far", 3 * DAY, false],
    ]);
  });

  it("scheduling the same message id again replaces it: one delivery, at the second time", async () => {
    const { scheduler, clock, store, deliveries } = setup();
    await scheduler.start();
    const msg = job();
    await scheduler.schedule(msg, { inMs: 100 });
    await scheduler.schedule(msg, { inMs: 300 });
    expect([scheduler.inMemoryCount, await store.count()]).toEqual([1, 1]);
    await scheduler.schedule(job("moved-out"), { inMs: 100 });
    await scheduler.schedule(job("moved-out"), { inMs: 2 * DAY });
    expect(scheduler.inMemoryCount).toBe(1);
    await clock.advance(1_000);
    expect(deliveries.map((d) => [d.id, d.t])).toEqual([[msg.id, 300]]);
    expect(await store.count()).toBe(1);
  });

  it("retries back off exponentially up to the cap, each persisted before it is armed", async () => {
    const { scheduler, clock, t0, store, responded } = setup({
      retry: { maxAttempts: 7, initialDelayMs: 100, factor: 3, maxDelayMs: 1_000 },
    });
    await scheduler.start();
    const msg = Message.new("wrong_service");
    await scheduler.schedule(msg, { inMs: 10 });
    await clock.advance(10);
    expect(await store.get(msg.id)).toMatchObject({ attempts: 1, dispatchAt: t0 + 110, scheduledFor: t0 + 10 });
    await clock.advance(10_000);
    // The node stamps invokedAt with the dispatch time: gaps 100, 300, 900, then capped at 1 000.
    expect(responded.map((m) => m.invokedAt - t0)).toEqual([10, 110, 410, 1_310, 2_310, 3_310, 4_310]);
    expect(await store.count()).toBe(0);
  });

  it("a { retryInMs } verdict sets the delay of that retry", async () => {
    let calls = 0;
    const { scheduler, clock, deliveries } = setup({
      serviceResponded: () => (++calls === 1 ? { retryInMs: 42 } : "done"),
    });
    await scheduler.start();
    await scheduler.schedule(job("j"), { inMs: 8 });
    await clock.advance(100);
    expect(deliveries.map((d) => [d.t, d.attempts])).toEqual([
      [8, 1],
      [50, 2],
    ]);
  });

  it("after maxAttempts the alarm becomes a dead letter (hook called once); replay delivers it again", async () => {
    const letters: DeadLetter[] = [];
    const { scheduler, clock, t0, node, store } = setup({
      retry: { maxAttempts: 3, initialDelayMs: 100 },
      onDeadLetter: (letter) => letters.push(letter),
    });
    await scheduler.start();
    const msg = Message.new("late_service");
    await scheduler.schedule(msg, { inMs: 10 });
    await clock.advance(10 + 100 + 200);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      alarm: { id: msg.id, attempts: 3 },
      reason: Response.serviceUnavailable("late_service"),
      failedAt: t0 + 310,
    });
    expect(letters[0]?.alarm.message).toMatchObject({
      response: null,
      halted: false,
      assigns: { dispatchAttempts: 3 },
    });
    expect(await scheduler.deadLetters()).toEqual(letters);
    expect([await store.count(), scheduler.inMemoryCount]).toEqual([0, 0]);
    await clock.advance(HOUR);
    expect(letters).toHaveLength(1);

    const replayed: Message[] = [];
    const serve = (m: Message) => {
      replayed.push(m);
      return m.ok();
    };
    node.register(defineRouter({ name: "late", services: { late_service: serve }, authorize: () => true }));
    expect(await scheduler.replayDeadLetter("missing")).toBe(false);
    expect(await scheduler.replayDeadLetter(msg.id)).toBe(true);
    expect(await scheduler.deadLetters()).toEqual([]);
    await clock.advance(0);
    expect(replayed.map((m) => [m.id, m.assigns.dispatchAttempts])).toEqual([[msg.id, 1]]);
    expect(await store.count()).toBe(0);
  });

  it("a throwing dispatcher or serviceResponded is a retryable failure; the scheduler keeps going", async () => {
    const clock = new VirtualClock();
    const node = createNode({ clock, announceIntervalMs: 0 });
    node.register(defineRouter({ name: "jobs", services: { job: (m) => m.ok() }, authorize: () => true }));
    let dispatches = 0;
    const dispatcher: SchedulerDispatcher = {
      dispatch(message, options) {
        if (++dispatches === 1) throw new Error("transport down");
        return node.dispatch(message, options);
      },
    };
    const verdicts: string[] = [];
    const letters: DeadLetter[] = [];
    const scheduler = createScheduler({
      dispatcher,
      store: createMemoryAlarmStore(),
      clock,
      retry: { initialDelayMs: 10 },
      onDeadLetter: (letter) => letters.push(letter),
      serviceResponded(resolved) {
        verdicts.push(`${resolved.assigns.dispatchAttempts}:${resolved.response?.status}`);
        if (verdicts.length === 1) throw new Error("hook broke");
        return "done";
      },
    });
    await scheduler.start();
    await scheduler.schedule(job(), { inMs: 5 });
    await clock.advance(5 + 10 + 20);
    expect(dispatches).toBe(3);
    expect(verdicts).toEqual(["2:ok", "3:ok"]);
    expect(letters).toEqual([]);
  });

  it("a repeating alarm: one id per occurrence, the same id on redelivery, missed slots skipped, cancel ends it", async () => {
    let calls = 0;
    const { scheduler, clock, t0, store, deliveries } = setup({
      serviceResponded: () => (++calls === 1 ? { retryInMs: 10 } : "done"),
    });
    await scheduler.start();
    const msg = job();
    await scheduler.schedule(msg, { inMs: 100, everyMs: 1_000 });
    await clock.advance(3_500);
    expect(deliveries.map((d) => [d.id, d.t, d.attempts])).toEqual([
      [`${msg.id}.${t0 + 100}`, 100, 1],
      [`${msg.id}.${t0 + 100}`, 110, 2],
      [`${msg.id}.${t0 + 1_100}`, 1_100, 1],
      [`${msg.id}.${t0 + 2_100}`, 2_100, 1],
      [`${msg.id}.${t0 + 3_100}`, 3_100, 1],
    ]);
    expect(await scheduler.cancel(msg.id)).toBe(true);
    expect(await scheduler.cancel(msg.id)).toBe(false);
    await clock.advance(5_000);
    expect(deliveries).toHaveLength(5);
    expect([await store.count(), scheduler.inMemoryCount]).toEqual([0, 0]);
  });

  it("a repeating alarm whose slots were missed is delivered once, late, then continues at the next future slot", async () => {
    const { scheduler, clock, t0, store, deliveries } = setup();
    const msg = job();
    await scheduler.schedule(msg, { inMs: 100, everyMs: 1_000 });
    await clock.advance(5_050);
    await scheduler.start();
    await clock.advance(0);
    expect(await store.get(msg.id)).toMatchObject({ dispatchAt: t0 + 5_100, attempts: 0 });
    await clock.advance(50);
    expect(deliveries.map((d) => [d.id, d.t, d.late])).toEqual([
      [`${msg.id}.${t0 + 100}`, 5_050, true],
      [`${msg.id}.${t0 + 5_100}`, 5_100, false],
    ]);
  });

  it("an overdue alarm is dispatched at once with late = true and its own dispatchAt", async () => {
    const { scheduler, clock, t0, deliveries } = setup();
    await scheduler.start();
    await scheduler.schedule(job("overdue"), { at: t0 - 5_000 });
    await scheduler.schedule(job("on-time"), { inMs: 0 });
    await clock.advance(0);
    expect(deliveries.map((d) => [d.id, d.t, d.late, d.dispatchAt])).toEqual([
      ["overdue", 0, true, t0 - 5_000],
      ["on-time", 0, false, t0],
    ]);
  });

  it("an alarm whose delivery never finished is delivered again by the next scheduler on the same store", async () => {
    const { clock, store, scheduler, deliveries } = setup();
    const dispatched: Message[] = [];
    const dying = createScheduler({
      dispatcher: {
        dispatch(message) {
          dispatched.push(message);
          return new Promise<Message>(() => {});
        },
      },
      store,
      clock,
    });
    await dying.start();
    const msg = job();
    await dying.schedule(msg, { inMs: 100 });
    await clock.advance(100);
    expect(dispatched.map((m) => m.id)).toEqual([msg.id]);
    dying.stop(); // the process dies mid-dispatch: nothing was acknowledged
    expect(await store.count()).toBe(1);
    await clock.advance(1_000);

    await scheduler.start();
    await clock.advance(0);
    expect(deliveries.map((d) => [d.id, d.attempts, d.late])).toEqual([[msg.id, 1, true]]);
    expect(await store.count()).toBe(0);
  });

  it("stop cancels every timer; start again picks the alarms up", async () => {
    const { scheduler, clock, deliveries } = setup();
    await scheduler.start();
    for (let i = 0; i < 5; i++) await scheduler.schedule(job(`j-${i}`), { inMs: (i + 1) * HOUR });
    expect(clock.pendingTimers).toBe(6);
    scheduler.stop();
    expect(clock.pendingTimers).toBe(0);
    expect(scheduler.inMemoryCount).toBe(0);
    await clock.advance(DAY);
    expect(deliveries).toEqual([]);
    await scheduler.start();
    await clock.advance(0);
    expect(deliveries.map((d) => d.late)).toEqual([true, true, true, true, true]);
    scheduler.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it("only the window is held in memory: 10,000 alarms spread over a week", async () => {
    const { scheduler, clock, store, deliveries } = setup();
    const step = (7 * DAY) / 10_000;
    for (let i = 0; i < 10_000; i++) await scheduler.schedule(job(`a-${i}`), { inMs: i * step });
    const dueBefore = (ms: number) => Math.ceil(ms / step);
    await scheduler.start();
    expect(scheduler.inMemoryCount).toBe(dueBefore(12 * HOUR));
    expect(scheduler.inMemoryCount).toBeLessThan(1_000);
    await clock.advance(6 * HOUR);
    expect(deliveries).toHaveLength(Math.floor((6 * HOUR) / step) + 1);
    expect(scheduler.inMemoryCount).toBe(dueBefore(18 * HOUR) - deliveries.length);
    expect(await store.count()).toBe(10_000 - deliveries.length);
  });

  it("cancel or reschedule during a delivery wins over the delivery's outcome", async () => {
    const clock = new VirtualClock();
    const store = createMemoryAlarmStore();
    const answers: Array<(m: Message) => void> = [];
    const scheduler = createScheduler({
      dispatcher: { dispatch: () => new Promise<Message>((resolve) => answers.push(resolve)) },
      store,
      clock,
    });
    await scheduler.start();
    const [a, b] = [job("a"), job("b")];
    await scheduler.schedule(a, { inMs: 10 });
    await scheduler.schedule(b, { inMs: 10 });
    await clock.advance(10);
    expect(answers).toHaveLength(2);
    expect(await scheduler.cancel("a")).toBe(true);
    await scheduler.schedule(b, { inMs: HOUR });
    for (const answer of answers) answer(a.return(Response.serviceUnavailable("job")));
    await clock.advance(0);
    expect(await store.get("a")).toBeUndefined();
    expect(await store.get("b")).toMatchObject({ attempts: 0, dispatchAt: clock.now() + HOUR });
    expect(scheduler.inMemoryCount).toBe(1);
  });

  it("a reload never delivers twice: not an alarm under way, nor one that completed while its query ran", async () => {
    const inner = createMemoryAlarmStore();
    let held: ReturnType<typeof gate> | undefined; // set midway: earlier loads must not wait
    const slow: AlarmStore = {
      ...inner,
      async loadDue(until) {
        const answer = await inner.loadDue(until);
        await held?.opened;
        return answer;
      },
    };
    const clock = new VirtualClock();
    const answers: Array<(m: Message) => void> = [];
    const dispatched: string[] = [];
    const scheduler = createScheduler({
      dispatcher: {
        dispatch(message) {
          dispatched.push(message.id);
          if (message.id === "quick") return Promise.resolve(message.ok());
          return new Promise<Message>((resolve) => answers.push(resolve));
        },
      },
      store: slow,
      clock,
      inMemoryIntervalMs: SECOND,
    });
    await scheduler.start();
    await scheduler.schedule(job("hanging"), { inMs: 900 });
    await scheduler.schedule(job("quick"), { inMs: 1_500 });
    await clock.advance(900);
    expect(dispatched).toEqual(["hanging"]);
    held = gate();
    await clock.advance(100); // the reload's answer holds both, "hanging" overdue and under way
    await clock.advance(500); // "quick" is delivered and deleted while that answer is held back
    held.open();
    await clock.advance(SECOND);
    expect(dispatched).toEqual(["hanging", "quick"]);
    for (const answer of answers) answer(job("hanging").ok());
    await clock.advance(0);
    expect(await slow.count()).toBe(0);
  });

  it("a failing store never crashes it: start rejects and stays stopped, a failed reload is retried next tick", async () => {
    const inner = createMemoryAlarmStore();
    let failures = 1;
    const flaky: AlarmStore = {
      ...inner,
      async loadDue(until) {
        if (failures-- > 0) throw new Error("store down");
        return inner.loadDue(until);
      },
    };
    const { scheduler, clock, deliveries } = setup({ store: flaky, inMemoryIntervalMs: SECOND });
    await expect(scheduler.start()).rejects.toThrow("store down");
    expect(clock.pendingTimers).toBe(0);
    await scheduler.schedule(job("j"), { inMs: 2_500 });
    await scheduler.start();
    failures = 1;
    await clock.advance(SECOND);
    expect(scheduler.inMemoryCount).toBe(0);
    await clock.advance(SECOND);
    expect(scheduler.inMemoryCount).toBe(1);
    await clock.advance(SECOND);
    expect(deliveries.map((d) => [d.id, d.t])).toEqual([["j", 2_500]]);
  });

  it("rejects misuse: not exactly one of inMs and at, a bad everyMs, a halted message, bad interval or retry settings", async () => {
    const { scheduler } = setup();
    await expect(scheduler.schedule(job(), {} as never)).rejects.toThrow(/exactly one of inMs and at/);
    await expect(scheduler.schedule(job(), { inMs: 1, at: 2 } as never)).rejects.toThrow(/exactly one/);
    await expect(scheduler.schedule(job(), { inMs: Number.NaN })).rejects.toThrow(/exactly one/);
    await expect(scheduler.schedule(job(), { inMs: 1, everyMs: 0 })).rejects.toThrow(/everyMs/);
    await expect(scheduler.schedule(job().ok(), { inMs: 1 })).rejects.toThrow(/halted/);
    expect(() =>
      createScheduler({ dispatcher: createNode(), store: createMemoryAlarmStore(), inMemoryIntervalMs: 30 * DAY }),
    ).toThrow(/inMemoryIntervalMs/);
    expect(() =>
      createScheduler({ dispatcher: createNode(), store: createMemoryAlarmStore(), retry: { factor: Number.NaN } }),
    ).toThrow(/retry settings/);
  });

  it("keeps the alarm record JSON-safe: the stored record is exactly what it scheduled", async () => {
    const { scheduler, store, t0 } = setup();
    const msg = job().putInRawRequest("when", "tomorrow");
    await scheduler.schedule(msg, { inMs: 100, aggregateId: "acc-1", everyMs: DAY });
    const stored = (await store.get(msg.id)) as Alarm;
    expect(stored).toEqual({
      id: msg.id,
      message: { ...msg.toJSON(), id: `${msg.id}.${t0 + 100}`, assigns: { dispatchAt: t0 + 100, dispatchAttempts: 0 } },
      dispatchAt: t0 + 100,
      scheduledFor: t0 + 100,
      attempts: 0,
      aggregateId: "acc-1",
      everyMs: DAY,
      pinned: {},
    });
    expect(JSON.parse(JSON.stringify(stored))).toEqual(stored);
  });
});

describe("scheduler telemetry", () => {
  it("reports scheduling, each dispatch, retries, dead letters and store failures", async () => {
    const telemetry = createTelemetry();
    const seen: string[] = [];
    telemetry.on("*", (event) => {
      if (event.name.startsWith("alarm_"))
        seen.push(`${event.name}:${String(event.metadata.op ?? event.metadata.verdict ?? "")}`);
    });
    const base = createMemoryAlarmStore();
    let failWrites = false;
    const flaky: AlarmStore = {
      ...base,
      save: async (alarm) => {
        if (failWrites) throw new Error("disk full");
        return base.save(alarm);
      },
    };
    const { clock, scheduler } = setup({ telemetry, store: flaky, retry: { maxAttempts: 2, initialDelayMs: 10 } });
    await scheduler.start();
    await scheduler.schedule(Message.new("nobody_serves_this"), { inMs: 5 });
    await clock.advance(5); // dispatch 1: service_unavailable → retry in 10 ms
    await clock.advance(10); // dispatch 2: dead letter
    failWrites = true;
    await scheduler.schedule(Message.new("job"), { inMs: 5 }).catch(() => {});
    failWrites = false;
    await scheduler.schedule(Message.new("nobody_serves_this"), { inMs: 5 });
    failWrites = true;
    await clock.advance(5); // dispatch fails, the retry cannot be saved: reported, the alarm stays stored
    scheduler.stop();
    expect(seen).toEqual([
      "alarm_scheduled:",
      "alarm_dispatched:retry",
      "alarm_retry_scheduled:",
      "alarm_dispatched:retry",
      "alarm_dead_lettered:",
      "alarm_scheduled:",
      "alarm_dispatched:retry",
      "alarm_store_failed:write",
    ]);
  });
});

describe("scheduler.settled()", () => {
  it("resolves only when the deliveries under way have finished", async () => {
    const clock = new VirtualClock();
    const node = createNode({ clock, announceIntervalMs: 0 });
    const { opened, open: release } = gate();
    node.register(
      defineRouter({
        name: "slow",
        services: {
          slow: async (msg) => {
            await opened;
            return msg.ok();
          },
        },
        authorize: () => true,
      }),
    );
    const store = createMemoryAlarmStore();
    const scheduler = createScheduler({ dispatcher: node, store, clock });
    await scheduler.start();
    await scheduler.schedule(Message.new("slow"), { inMs: 0 });
    await clock.advance(0);
    let settled = false;
    const waiting = scheduler.settled().then(() => {
      settled = true;
    });
    await clock.advance(0);
    expect(settled).toBe(false);
    release();
    await waiting;
    expect(await store.count()).toBe(0);
    scheduler.stop();
  });
});

describe("scheduler: repeating invocations (Spawn's InvocationScheduler repeat)", () => {
  it("repeat(message, { everyMs, firstInMs }) delivers every period under per-occurrence ids until the handle cancels", async () => {
    const { scheduler, clock, t0, store, deliveries } = setup();
    await scheduler.start();
    const msg = job();
    const handle = await scheduler.repeat(msg, { everyMs: 1_000, firstInMs: 0 });
    expect(handle.id).toBe(msg.id);
    await clock.advance(2_500);
    expect(deliveries.map((d) => [d.id, d.t])).toEqual([
      [`${msg.id}.${t0}`, 0],
      [`${msg.id}.${t0 + 1_000}`, 1_000],
      [`${msg.id}.${t0 + 2_000}`, 2_000],
    ]);
    expect(await handle.cancel()).toBe(true);
    expect(await handle.cancel()).toBe(false);
    await clock.advance(5_000);
    expect(deliveries).toHaveLength(3);
    expect([await store.count(), scheduler.inMemoryCount]).toEqual([0, 0]);
  });

  it("the first occurrence comes one period from now by default; the id also cancels it later", async () => {
    const { scheduler, clock, deliveries } = setup();
    await scheduler.start();
    const msg = job();
    await scheduler.repeat(msg, { everyMs: 500, aggregateId: "acc-1" });
    await clock.advance(499);
    expect(deliveries).toHaveLength(0);
    await clock.advance(1);
    expect(deliveries.map((d) => d.t)).toEqual([500]);
    expect(await scheduler.cancel(msg.id)).toBe(true);
    await clock.advance(1_000);
    expect(deliveries).toHaveLength(1);
  });

  it("rejects a missing or non-positive period", async () => {
    const { scheduler } = setup();
    for (const everyMs of [0, -1, Number.NaN, undefined]) {
      await expect(scheduler.repeat(job(), { everyMs: everyMs as number })).rejects.toThrow(/everyMs/);
    }
  });
});

/** A bank whose router lets only Ada in, with `deposit_later`, the handler a user app writes to deposit later. */
function bank(options: Partial<SchedulerOptions> = {}) {
  const clock = new VirtualClock();
  const node = createNode({ id: "bank", clock, announceIntervalMs: 0 });
  const store = createMemoryAlarmStore();
  const telemetry = createTelemetry();
  const letters: DeadLetter[] = [];
  const scheduler = createScheduler({
    dispatcher: node,
    store,
    clock,
    telemetry,
    onDeadLetter: (letter) => letters.push(letter),
    ...options,
  });
  const deposits: Message[] = [];
  node.register(
    defineRouter({
      name: "bank",
      services: {
        deposit: (msg) => {
          deposits.push(msg);
          return msg.ok();
        },
        deposit_later: async (msg) => {
          const deposit = Message.causedBy("deposit", msg, { rawRequest: { amount: msg.rawRequest.amount } });
          await scheduler.schedule(deposit, { inMs: 100 });
          return msg.ok({ scheduled: deposit.id });
        },
      },
      authorize: (msg) => (msg.assigns.principal as { user?: string } | undefined)?.user === "ada" || "login required",
    }),
  );
  const dispatchAs = (user: string | undefined, message: Message) =>
    node.dispatch(user === undefined ? message : message.assign("principal", { user }));
  return { clock, node, store, scheduler, telemetry, letters, deposits, dispatchAs };
}

describe("scheduler: on whose behalf a scheduled message runs", () => {
  it("a command scheduled from a service handler keeps its caller's principal and passes the router's authorize", async () => {
    const { clock, scheduler, store, letters, deposits, dispatchAs } = bank();
    await scheduler.start();
    const reply = await dispatchAs("ada", Message.new("deposit_later", { rawRequest: { amount: 5 } }));
    expect(reply.response).toMatchObject({ status: "ok" });
    await clock.advance(100);
    expect(deposits.map((m) => [m.rawRequest.amount, m.assigns.principal])).toEqual([[5, { user: "ada" }]]);
    expect([await store.count(), letters.length]).toEqual([0, 0]);
  });

  it("never gains a principal: not from saveAlarm, a service's reply, or a retry's replacement message", async () => {
    const seen: Array<[string, unknown]> = [];
    const clock = new VirtualClock();
    const node = createNode({ clock, announceIntervalMs: 0 });
    node.register(
      defineRouter({
        name: "grabby",
        services: {
          // Answers "try again" with a forged principal in its reply's assigns.
          grab: (msg) => {
            seen.push([msg.id, msg.assigns.principal]);
            return msg.assign("principal", { user: "root" }).return(Response.serviceUnavailable("grab"));
          },
        },
        authorize: () => true,
      }),
    );
    const scheduler = createScheduler({
      dispatcher: node,
      store: createMemoryAlarmStore(),
      clock,
      retry: { maxAttempts: 3, initialDelayMs: 10 },
      saveAlarm: (message) => message.assign("principal", { user: "saved-in" }),
      serviceResponded: (resolved) =>
        resolved.assigns.dispatchAttempts === 1
          ? { message: resolved.assign("principal", { user: "mallory" }) }
          : "retry",
    });
    await scheduler.start();
    const anonymous = Message.new("grab", { id: "anonymous" });
    const ada = Message.new("grab", { id: "ada" }).assign("principal", { user: "ada" });
    await scheduler.schedule(anonymous, { inMs: 0 });
    await scheduler.schedule(ada, { inMs: 0 });
    await clock.advance(100);
    expect(seen).toEqual([
      ["anonymous", undefined],
      ["ada", { user: "ada" }],
      ["anonymous", undefined],
      ["ada", { user: "ada" }],
      ["anonymous", undefined],
      ["ada", { user: "ada" }],
    ]);
    const letters = await scheduler.deadLetters();
    expect(letters.map((l) => [l.alarm.id, l.alarm.message.assigns.principal])).toEqual([
      ["ada", { user: "ada" }],
      ["anonymous", undefined],
    ]);
  });

  it("pinnedAssigns names further assigns fixed at schedule time; the alarm record keeps them", async () => {
    const seen: unknown[] = [];
    const { clock, scheduler, store, node } = setup({
      pinnedAssigns: ["principal", "tenant"],
      // The first delivery is retried with a replacement that moves it to another tenant (and locale).
      serviceResponded: (resolved) =>
        resolved.assigns.dispatchAttempts === 1
          ? { retryInMs: 5, message: resolved.assign("tenant", "t-2").assign("locale", "de") }
          : defaultServiceResponded(resolved),
    });
    node.register(
      defineRouter({
        name: "tenants",
        services: { tenant_job: (msg) => (seen.push(msg.assigns) === 1 ? msg.error("again") : msg.ok()) },
        authorize: () => true,
      }),
    );
    await scheduler.start();
    const msg = Message.new("tenant_job").assign("tenant", "t-1").assign("locale", "fr");
    await scheduler.schedule(msg, { inMs: 10 });
    expect(await store.get(msg.id)).toMatchObject({ pinned: { tenant: "t-1" } });
    await clock.advance(10);
    expect(seen).toEqual([expect.objectContaining({ tenant: "t-1", locale: "fr" })]);
    // The saved retry: the replacement's unpinned locale, the tenant it was scheduled with.
    expect(await store.get(msg.id)).toMatchObject({
      attempts: 1,
      pinned: { tenant: "t-1" },
      message: { assigns: { tenant: "t-1", locale: "de" } },
    });
    await clock.advance(5);
    expect(seen).toEqual([
      expect.objectContaining({ tenant: "t-1", locale: "fr" }),
      expect.objectContaining({ tenant: "t-1", locale: "de", dispatchAttempts: 2 }),
    ]);
    expect(await store.count()).toBe(0);
  });
});

describe("scheduler: the verdict on a reply (success, retry, final failure)", () => {
  it("a denial is a final failure: dead-lettered at once with its response and a telemetry event, never done", async () => {
    const { clock, scheduler, store, telemetry, letters, deposits } = bank();
    const events: Array<[string, unknown]> = [];
    telemetry.on("alarm_dead_lettered", (event) => events.push([String(event.metadata.id), event.metadata.cause]));
    await scheduler.start();
    const anonymous = Message.new("deposit", { rawRequest: { amount: 5 } });
    const mallory = Message.new("deposit", { rawRequest: { amount: 6 } }).assign("principal", { user: "mallory" });
    await scheduler.schedule(anonymous, { inMs: 10 });
    await scheduler.schedule(mallory, { inMs: 10 });
    await clock.advance(HOUR);
    expect(deposits).toEqual([]);
    expect(letters.map((l) => [l.alarm.id, l.alarm.attempts, l.reason])).toEqual([
      [anonymous.id, 1, Response.denied("login required")],
      [mallory.id, 1, Response.denied("login required")],
    ]);
    expect(await scheduler.deadLetters()).toEqual(letters);
    expect(events).toEqual([
      [anonymous.id, "denied"], // a router's denial reads as one whatever its reason (marked denied)
      [mallory.id, "denied"],
    ]);
    expect(await store.count()).toBe(0);
  });

  it("the router's default denial (no authorize) is reported as denied", async () => {
    const clock = new VirtualClock();
    const node = createNode({ clock, announceIntervalMs: 0 });
    node.register(defineRouter({ name: "closed", services: { closed: (msg) => msg.ok() } }));
    const telemetry = createTelemetry();
    const seen: unknown[] = [];
    telemetry.on("alarm_dead_lettered", (event) => seen.push([event.metadata.cause, event.metadata.reason]));
    const scheduler = createScheduler({ dispatcher: node, store: createMemoryAlarmStore(), clock, telemetry });
    await scheduler.start();
    await scheduler.schedule(Message.new("closed"), { inMs: 0 });
    await clock.advance(0);
    expect(seen).toEqual([["denied", Response.forbidden()]]);
    expect((await scheduler.deadLetters()).map((l) => l.alarm.attempts)).toEqual([1]);
  });

  it("the default classification: success is done, no provider is retried, every other answer is a final failure", () => {
    const verdict = (response: Response | null) =>
      defaultServiceResponded(response === null ? job() : job().return(response));
    expect(verdict(Response.ok())).toBe("done");
    expect(verdict(Response.created("acc-1", 0))).toBe("done");
    expect(verdict(Response.serviceUnavailable("job"))).toBe("retry");
    expect(verdict(Response.serviceTimeout("job", "m", 5))).toBe("retry");
    expect(verdict({ status: "no_nodes_available", tried: [] })).toBe("retry");
    expect(verdict(Response.error("forbidden"))).toBe("failed");
    expect(verdict({ status: "unauthorized" })).toBe("failed");
    expect(verdict(Response.error("insufficient funds"))).toBe("failed");
    expect(verdict(Response.validationError([{ message: "required", path: ["amount"] }]))).toBe("failed");
    expect(verdict(Response.notFound())).toBe("failed");
    expect(verdict(Response.missingId("id"))).toBe("failed");
    expect(verdict(null)).toBe("failed");
    expect(deliveryOutcome(Response.error("forbidden"))).toBe("denied");
    expect(deliveryOutcome(Response.denied({ forbidden: "no-interns" }))).toBe("denied");
    expect(deliveryOutcome(Response.error("insufficient funds"))).toBe("rejected");
    expect(deliveryOutcome({ status: "unauthorized" })).toBe("denied");
    expect(deliveryOutcome(Response.notFound())).toBe("rejected");
    expect(deliveryOutcome(Response.ok())).toBe("succeeded");
    expect(deliveryOutcome(Response.serviceUnavailable("x"))).toBe("transient");
  });

  it("a validation error or not_found from the service goes to the dead letters; serviceResponded can judge otherwise", async () => {
    const { clock, scheduler, node, store } = setup({
      serviceResponded: (m) =>
        m.rawRequest.tolerant && m.response?.status === "not_found" ? "done" : defaultServiceResponded(m),
    });
    node.register(
      defineRouter({
        name: "strict",
        services: {
          lookup: (msg) => msg.return(Response.notFound()),
          validate: (msg) => msg.return(Response.validationError([{ message: "bad", path: [] }])),
        },
        authorize: () => true,
      }),
    );
    await scheduler.start();
    await scheduler.schedule(Message.new("lookup", { id: "strict-lookup" }), { inMs: 0 });
    await scheduler.schedule(Message.new("validate", { id: "validate" }), { inMs: 0 });
    await scheduler.schedule(Message.new("lookup", { id: "tolerant", rawRequest: { tolerant: true } }), { inMs: 0 });
    await clock.advance(HOUR);
    expect((await scheduler.deadLetters()).map((l) => [l.alarm.id, l.alarm.attempts, l.reason.status])).toEqual([
      ["strict-lookup", 1, "not_found"],
      ["validate", 1, "validation_error"],
    ]);
    expect(await store.count()).toBe(0);
  });

  it("a retry verdict may carry a replacement message (the original's redelivered? flag); its id is kept", async () => {
    const seen: Array<[string, unknown, unknown]> = [];
    const { clock, scheduler, node, store } = setup({
      serviceResponded: (resolved) =>
        resolved.response?.status === "error"
          ? { retryInMs: 25, message: resolved.assign("redelivered", true).with({ id: "another-id" }) }
          : defaultServiceResponded(resolved),
    });
    node.register(
      defineRouter({
        name: "picky",
        services: {
          picky: (msg) => {
            seen.push([msg.id, msg.assigns.redelivered, msg.assigns.dispatchAttempts]);
            return msg.assigns.redelivered === true ? msg.ok() : msg.error("first attempt");
          },
        },
        authorize: () => true,
      }),
    );
    await scheduler.start();
    const msg = Message.new("picky");
    await scheduler.schedule(msg, { inMs: 0 });
    await clock.advance(24);
    expect(await store.get(msg.id)).toMatchObject({ attempts: 1, message: { assigns: { redelivered: true } } });
    await clock.advance(1);
    expect(seen).toEqual([
      [msg.id, undefined, 1],
      [msg.id, true, 2],
    ]);
    expect([await store.count(), (await scheduler.deadLetters()).length]).toEqual([0, 0]);
  });
});

describe("scheduler: bounded memory with a backlog", () => {
  /** `n` alarms over a week, stored while no scheduler ran; 3.5 days later the first `overdue` are past due. */
  async function backlog(n: number, options: Partial<SchedulerOptions>) {
    const ctx = setup(options);
    const outage = 3.5 * DAY;
    for (let i = 0; i < n; i++)
      await ctx.scheduler.schedule(job(`a-${String(i).padStart(4, "0")}`), { inMs: 1 + Math.floor((i * 7 * DAY) / n) });
    await ctx.clock.advance(outage);
    return { ...ctx, overdue: Math.ceil((n * outage) / (7 * DAY)) };
  }

  it("a restart after an outage arms at most maxInMemory alarms and delivers the backlog in order, each once", async () => {
    const { clock, scheduler, store, deliveries, overdue } = await backlog(400, { maxInMemory: 25 });
    const peaks: number[] = [];
    await scheduler.start();
    peaks.push(scheduler.inMemoryCount);
    expect(scheduler.inMemoryCount).toBeLessThanOrEqual(25);
    expect(clock.pendingTimers).toBeLessThanOrEqual(26); // plus the reload tick
    for (let i = 0; i < 60 && deliveries.length < overdue; i++) {
      await clock.advance(0);
      peaks.push(scheduler.inMemoryCount);
    }
    expect(deliveries).toHaveLength(overdue);
    expect(deliveries.every((d) => d.late === true)).toBe(true);
    expect(deliveries.map((d) => d.id)).toEqual([...deliveries.map((d) => d.id)].sort());
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(overdue);
    expect(Math.max(...peaks)).toBeLessThanOrEqual(25);
    expect(await store.count()).toBe(400 - overdue);
  });

  it("asks the store for one page at a time", async () => {
    const inner = createMemoryAlarmStore();
    const limits: Array<number | undefined> = [];
    const paging: AlarmStore = {
      ...inner,
      loadDue(until, limit) {
        limits.push(limit);
        return inner.loadDue(until, limit);
      },
    };
    const { clock, scheduler, deliveries } = setup({ store: paging, maxInMemory: 10 });
    for (let i = 0; i < 35; i++)
      await scheduler.schedule(job(`p-${String(i).padStart(2, "0")}`), { at: clock.now() - 1_000 + i });
    await scheduler.start();
    for (let i = 0; i < 20 && deliveries.length < 35; i++) await clock.advance(0);
    expect(deliveries).toHaveLength(35);
    expect(new Set(limits)).toEqual(new Set([10]));
    expect(limits.length).toBeGreaterThanOrEqual(4);
  });

  it("a store failing while it pages through a backlog is reported, not spun on; the backlog still drains", async () => {
    const inner = createMemoryAlarmStore();
    let failing = false;
    let loads = 0;
    const flaky: AlarmStore = {
      ...inner,
      async loadDue(until, limit) {
        loads++;
        if (failing) throw new Error("store down");
        return inner.loadDue(until, limit);
      },
    };
    const telemetry = createTelemetry();
    let failures = 0;
    telemetry.on("alarm_store_failed", () => failures++);
    const { clock, scheduler, deliveries } = setup({
      store: flaky,
      maxInMemory: 4,
      telemetry,
      inMemoryIntervalMs: HOUR,
    });
    for (let i = 0; i < 12; i++)
      await scheduler.schedule(job(`b-${String(i).padStart(2, "0")}`), { at: clock.now() - 100 + i });
    await scheduler.start();
    failing = true;
    await clock.advance(0);
    const loadsWhileDown = loads;
    expect(failures).toBeGreaterThan(0);
    expect(loadsWhileDown).toBeLessThan(10); // one try per finished delivery at most, never a loop
    failing = false;
    await clock.advance(HOUR); // the tick loads again
    for (let i = 0; i < 10 && deliveries.length < 12; i++) await clock.advance(0);
    expect(deliveries.map((d) => d.id)).toEqual(
      Array.from({ length: 12 }, (_, i) => `b-${String(i).padStart(2, "0")}`),
    );
  });

  it("schedules arriving latest first while memory is full: the earliest stay armed, each fires on time, without reloads", async () => {
    const store = spyingOn(createMemoryAlarmStore());
    const { clock, scheduler, deliveries } = setup({ store, maxInMemory: 8 });
    await scheduler.start();
    for (let i = 40; i >= 1; i--) await scheduler.schedule(job(`r-${String(i).padStart(2, "0")}`), { inMs: i * 1_000 });
    expect(scheduler.inMemoryCount).toBe(8);
    expect(store.untils).toHaveLength(1); // only start's load: each earlier alarm took the latest one's place
    const held: number[] = [];
    for (let t = 0; t < 41; t++) {
      await clock.advance(1_000);
      held.push(scheduler.inMemoryCount);
    }
    expect(deliveries.map((d) => [d.id, d.t, d.late])).toEqual(
      Array.from({ length: 40 }, (_, i) => [`r-${String(i + 1).padStart(2, "0")}`, (i + 1) * 1_000, false]),
    );
    expect(Math.max(...held)).toBeLessThanOrEqual(8);
  });

  it("an alarm scheduled earlier than the armed ones while memory is full still fires on time", async () => {
    const { clock, scheduler, deliveries } = setup({ maxInMemory: 10 });
    await scheduler.start();
    for (let i = 0; i < 30; i++)
      await scheduler.schedule(job(`far-${String(i).padStart(2, "0")}`), { inMs: HOUR + i * 60_000 });
    expect(scheduler.inMemoryCount).toBeLessThanOrEqual(10);
    await scheduler.schedule(job("soon"), { inMs: 10 * 60_000 });
    await clock.advance(0);
    expect(scheduler.inMemoryCount).toBeLessThanOrEqual(10);
    await clock.advance(3 * HOUR);
    expect(deliveries[0]).toMatchObject({ id: "soon", t: 10 * 60_000, late: false });
    expect(deliveries).toHaveLength(31);
    expect(deliveries.filter((d) => d.late === true)).toEqual([]);
    expect(deliveries.map((d) => d.dispatchAt)).toEqual(
      [...deliveries.map((d) => d.dispatchAt as number)].sort((a, b) => a - b),
    );
  });
});
