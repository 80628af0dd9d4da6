export * from "./event-store.ts";
export { createMemoryEventStore } from "./memory-event-store.ts";
