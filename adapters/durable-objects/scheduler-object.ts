import { DurableObject } from "cloudflare:workers";
import {
  createScheduler,
  type DeadLetter,
  Message,
  type MessageData,
  type ScheduleOptions,
  type Scheduler,
  type SchedulerDispatcher,
  type SchedulerOptions,
} from "../../src/index.ts";
import { type AlarmClock, createAlarmClock } from "./alarm-clock.ts";
import { createSqlAlarmStore } from "./sql-alarm-store.ts";

export interface SchedulerObjectOptions<TEnv = Cloudflare.Env> {
  /** Where scheduled messages go: usually a node whose routers forward to aggregate objects. */
  createDispatcher(env: TEnv): SchedulerDispatcher;
  /** The core scheduler's options (retries, hooks, window); store and clock are the object's own. */
  readonly scheduler?: Omit<SchedulerOptions, "dispatcher" | "store" | "clock">;
}

/** The RPC surface of a scheduler object. */
export interface SchedulerObjectRpc {
  schedule(envelope: MessageData, options: ScheduleOptions): Promise<void>;
  cancel(messageId: string): Promise<boolean>;
  deadLetters(): Promise<DeadLetter[]>;
  replayDeadLetter(messageId: string): Promise<boolean>;
  /** The alarm clock's lanes and their next due times (diagnostics). */
  lanes(): Promise<Record<string, number>>;
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

    /** The object's one alarm: run what is due, wait for those deliveries, keep the alarm armed. */
    override async alarm(): Promise<void> {
      this.#clock.fire();
      await this.#scheduler.settled();
      await this.#clock.watchdog();
    }
  };
}
