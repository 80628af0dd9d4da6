/** `npm run bench`: the dispatch, aggregate and scheduler suites, in one process. Not a test. */
import { aggregatesBench } from "./aggregates.ts";
import { dispatchBench } from "./dispatch.ts";
import { schedulerBench } from "./scheduler.ts";

await dispatchBench();
console.log("");
await aggregatesBench();
console.log("");
await schedulerBench();
