/**
 * `npm run bench`: the dispatch, aggregate, scheduler, Durable Objects and sharded-stream suites, then the
 * browser ones: cross-tab round trips and IndexedDB appends in each engine of `X3M_BROWSERS` (default: all),
 * offline sync in the first. Not a test.
 */
import { aggregatesBench } from "./aggregates.ts";
import { dispatchBench } from "./dispatch.ts";
import { durableObjectsBench } from "./durable-objects.ts";
import { edgeBench } from "./edge.ts";
import { eventStreamsBench } from "./event-streams.ts";
import { indexedDbBench } from "./indexeddb.ts";
import { schedulerBench } from "./scheduler.ts";
import { syncBench } from "./sync.ts";
import { tabsBench } from "./tabs.ts";

await dispatchBench();
console.log("");
await aggregatesBench();
console.log("");
await schedulerBench();
console.log("");
await durableObjectsBench();
console.log("");
await edgeBench();
console.log("");
await eventStreamsBench();
console.log("");
await tabsBench();
console.log("");
await indexedDbBench();
console.log("");
await syncBench();
