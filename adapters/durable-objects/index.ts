/** @module x3m-system/durable-objects: aggregates and scheduled delivery on Cloudflare Durable Objects. */
export {
  type AggregateCall,
  type AggregateObjectClass,
  type AggregateObjectOptions,
  type AggregateObjectRpc,
  defineAggregateObject,
} from "./aggregate-object.ts";
export { type AggregateNamespace, aggregateServices, type ForwardOptions } from "./aggregate-services.ts";
export { type AlarmClock, createAlarmClock, type DurableAlarmStorage } from "./alarm-clock.ts";
export {
  defineSchedulerObject,
  type SchedulerObjectClass,
  type SchedulerObjectOptions,
  type SchedulerObjectRpc,
} from "./scheduler-object.ts";
export { createSqlAlarmStore } from "./sql-alarm-store.ts";
export { createSqlEventStore } from "./sql-event-store.ts";
export type { DurableSqlStorage } from "./storage.ts";
