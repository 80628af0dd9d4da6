import { DurableObject } from "cloudflare:workers";
import {
  createScheduler,
  type DeadLetter,
  Message,
  type MessageData,
  type RepeatOptions,
  type ScheduleClient,
  type ScheduleOptions,
  type Scheduler,
  type SchedulerDispatcher,
  type SchedulerOptions,
} from "../../src/index.ts";
import { type AlarmClock, createAlarmClock } from "./alarm-clock.ts";
import { createSqlAlarmStore } from "./sql-alarm-store.ts";

/** Options of `defineSchedulerObject`: where scheduled messages are dispatched, and the core scheduler's tuning. */
export interface SchedulerObjectOptions<TEnv = Cloudflare.Env> {
  /** Where scheduled messages go: usually a node whose routers forward to aggregate objects. */
  createDispatcher(env: TEnv): SchedulerDispatcher;
  /** The core scheduler's options (retries, hooks, window); store and clock are the object's own. */
  readonly scheduler?: Omit<SchedulerOptions, "dispatcher" | "store" | "clock">;
}

/** The RPC surface of a scheduler object. */
export interface SchedulerObjectRpc {
  /** Saves the alarm (replacing one with that message id) to dispatch the envelope once, or every `everyMs`. */
  schedule(envelope: MessageData, options: ScheduleOptions): Promise<void>;
  /** Starts a repeating schedule; resolves its id. Call it through `schedulerClient(stub).repeat`. */
  repeat(envelope: MessageData, options: RepeatOptions): Promise<string>;
  /** Removes the alarm scheduled with this message id (a whole repeating series); resolves whether there was one. */
  cancel(messageId: string): Promise<boolean>;
  /** Every alarm that failed `maxAttempts` times, oldest failure first, with its last response. */
  deadLetters(): Promise<DeadLetter[]>;
  /** Schedules a dead letter again, now, with its attempts reset; resolves whether there was one. */
  replayDeadLetter(messageId: string): Promise<boolean>;
  /** The alarm clock's lanes and their next due times (diagnostics). */
  lanes(): Promise<Record<string, number>>;
  /** Alarms armed in memory right now, at most the scheduler's `maxInMemory` (diagnostics). */
  inMemoryCount(): Promise<number>;
}

/** The class `defineSchedulerObject` returns. */
export type SchedulerObjectClass = new (
  ctx: DurableObjectState,
  env: Cloudflare.Env,
) => DurableObject & SchedulerObjectRpc;

/**
 * Makes a Durable Object class that delivers scheduled messages at least once: alarms are rows in the
 * object's SQLite storage, the core scheduler holds the near window, and the object's one alarm (through
 * `createAlarmClock`) wakes it for the earliest due time, also after an eviction.
 *
 * @example
 * import { defineSchedulerObject } from "x3m-system/durable-objects";
 * export const Reminders = defineSchedulerObject({ createDispatcher: (env) => edgeNode(env), scheduler: { retry: { maxAttempts: 8 } } });
 */
export function defineSchedulerObject<TEnv = Cloudflare.Env>(
  options: SchedulerObjectOptions<TEnv>,
): SchedulerObjectClass {
  return class SchedulerObject extends DurableObject implements SchedulerObjectRpc {
    readonly #clock: AlarmClock;
    readonly #scheduler: Scheduler;

    constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
      super(ctx, env);
      this.#clock = createAlarmClock(ctx.storage);
      this.#scheduler = createScheduler({
        ...options.scheduler,
        dispatcher: options.createDispatcher(env as TEnv),
        store: createSqlAlarmStore(ctx.storage),
        clock: this.#clock.lane("scheduler"),
      });
      // Nothing is served before the window is loaded and armed again (after an eviction, too).
      void ctx.blockConcurrencyWhile(() => this.#scheduler.start());
    }

    async schedule(envelope: MessageData, scheduleOptions: ScheduleOptions): Promise<void> {
      await this.#scheduler.schedule(Message.parse(envelope), scheduleOptions);
    }

    async repeat(envelope: MessageData, repeatOptions: RepeatOptions): Promise<string> {
      return (await this.#scheduler.repeat(Message.parse(envelope), repeatOptions)).id;
    }

    cancel(messageId: string): Promise<boolean> {
      return this.#scheduler.cancel(messageId);
    }

    deadLetters(): Promise<DeadLetter[]> {
      return this.#scheduler.deadLetters();
    }

    replayDeadLetter(messageId: string): Promise<boolean> {
      return this.#scheduler.replayDeadLetter(messageId);
    }

    async lanes(): Promise<Record<string, number>> {
      return this.#clock.lanes();
    }

    async inMemoryCount(): Promise<number> {
      return this.#scheduler.inMemoryCount;
    }

    override alarm(): Promise<void> {
      return runSchedulerAlarm(this.#clock, this.#scheduler);
    }
  };
}

/** Rounds of due work one `alarm()` call runs at most (a page of a backlog each); the rest goes to the next call. */
const ALARM_ROUNDS = 64;

/**
 * The work of a scheduler object's `alarm()`: runs what is due and waits for those deliveries; while that
 * made more work due now (the next page of a backlog, a retry due at once) it goes on, up to 64 rounds,
 * instead of one platform alarm per page; then it keeps the alarm armed.
 *
 * @example
 * import { runSchedulerAlarm } from "x3m-system/durable-objects";
 * // in a Durable Object with its own scheduler: async alarm() { await runSchedulerAlarm(this.clock, this.scheduler); }
 */
export async function runSchedulerAlarm(clock: AlarmClock, scheduler: Pick<Scheduler, "settled">): Promise<void> {
  clock.fire();
  await scheduler.settled();
  for (let round = 1; round < ALARM_ROUNDS && clock.runDue() > 0; round++) await scheduler.settled();
  await clock.watchdog();
}

/**
 * The calls `schedulerClient` makes on a scheduler object's stub (any `DurableObjectStub` of a
 * `defineSchedulerObject` class has them).
 *
 * @example
 * const stub: SchedulerStub = env.REMINDERS.get(env.REMINDERS.idFromName("global"));
 */
export type SchedulerStub = Pick<SchedulerObjectRpc, "schedule" | "repeat" | "cancel">;

/**
 * A scheduler object seen through the core's `ScheduleClient`: the same `schedule`, `repeat` (with a
 * handle to cancel) and `cancel` signatures as the memory scheduler, over Workers RPC.
 *
 * @example
 * import { schedulerClient } from "x3m-system/durable-objects";
 * const reminders = schedulerClient(env.REMINDERS.get(env.REMINDERS.idFromName("global")));
 * const handle = await reminders.repeat(Message.new("sync_prices"), { everyMs: 60_000, firstInMs: 0 });
 * await handle.cancel();
 */
export function schedulerClient(stub: SchedulerStub): ScheduleClient {
  return {
    schedule: (message, options) => stub.schedule(message.toJSON(), options),
    async repeat(message, options) {
      const id = await stub.repeat(message.toJSON(), options);
      return { id, cancel: () => stub.cancel(id) };
    },
    cancel: (id) => stub.cancel(id),
  };
}
