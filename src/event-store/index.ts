export * from "./event-store.ts";
export { createMemoryEventStore } from "./memory-event-store.ts";
export {
  checkShardCount,
  MAX_STREAM_SHARDS,
  type StreamShardLayout,
  shardName,
  shardOfStream,
  streamHash,
} from "./stream-shards.ts";
