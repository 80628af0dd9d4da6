/** The persistent scheduler: delayed and repeating dispatch, at least once, with retries and dead letters. */
export type { Alarm, AlarmStore, DeadLetter } from "./alarm-store.ts";
export { createMemoryAlarmStore } from "./memory-alarm-store.ts";
export {
  createScheduler,
  type RepeatHandle,
  type RepeatOptions,
  type RetryPolicy,
  type ScheduleClient,
  type ScheduleOptions,
  type Scheduler,
  type SchedulerDispatcher,
  type SchedulerOptions,
} from "./scheduler.ts";
export {
  type DeliveryOutcome,
  type DeliveryVerdict,
  defaultServiceResponded,
  deliveryOutcome,
  isDenial,
  type RetryVerdict,
} from "./verdict.ts";
