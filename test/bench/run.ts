/** `npm run bench`: the dispatch, aggregate, scheduler and Durable Objects suites, in one process. Not a test. */
import { aggregatesBench } from "./aggregates.ts";
import { dispatchBench } from "./dispatch.ts";
import { durableObjectsBench } from "./durable-objects.ts";
import { schedulerBench } from "./scheduler.ts";

await dispatchBench();
console.log("");
await aggregatesBench();
console.log("");
await schedulerBench();
console.log("");
await durableObjectsBench();
