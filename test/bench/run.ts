/** `npm run bench`: the dispatch suite, then the aggregate suite, in one process. Not a test. */
import { aggregatesBench } from "./aggregates.ts";
import { dispatchBench } from "./dispatch.ts";

await dispatchBench();
console.log("");
await aggregatesBench();
