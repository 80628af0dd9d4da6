/**
 * Dispatch overhead benchmark (the first suite of `npm run bench`): a service handler called directly,
 * versus the same handler reached through `node.dispatch` on one node and across the in-process hub.
 */
import {
  createInProcessHub,
  createNode,
  defineRouter,
  Message,
  type ServiceHandler,
  type SystemNode,
} from "../../src/index.ts";
import { type Case, measureAll, ROUNDS, table } from "./measure.ts";

const greet: ServiceHandler = (msg) => msg.ok(`Hello, ${msg.rawRequest.name}!`);
const greeter = defineRouter({ name: "greeter", services: { greet }, authorize: () => true });
const newGreet = () => Message.new("greet", { rawRequest: { name: "Ada" } });
const prebuilt = newGreet();

export async function dispatchBench(): Promise<void> {
  // One node serving locally; node `a` reaching the service on node `b` over the hub.
  const solo = createNode({ id: "solo", announceIntervalMs: 0 });
  solo.register(greeter);
  const hub = createInProcessHub();
  const a = createNode({ id: "a", announceIntervalMs: 0 });
  const b = createNode({ id: "b", announceIntervalMs: 0 });
  b.register(greeter);
  await a.connect(hub.transport());
  await b.connect(hub.transport());
  while (a.discover(prebuilt)[0]?.node !== "b") await new Promise((resolve) => setTimeout(resolve, 1));

  // Each loop returns its last reply, which is checked once before timing.
  const dispatchLoop = (node: SystemNode) => async (n: number) => {
    let last: unknown;
    for (let i = 0; i < n; i++) last = await node.dispatch(newGreet());
    return last;
  };
  const cases: Case[] = [
    {
      name: "direct `await handler(msg)`",
      iterations: 800_000,
      async loop(n) {
        let last: unknown;
        for (let i = 0; i < n; i++) last = await greet(prebuilt);
        return last;
      },
    },
    {
      name: "`Message.new` + `msg.ok` (sync)",
      iterations: 120_000,
      loop(n) {
        let last: unknown;
        for (let i = 0; i < n; i++) last = newGreet().ok("Hello, Ada!");
        return last;
      },
    },
    { name: "local `node.dispatch(Message.new(…))`", iterations: 50_000, loop: dispatchLoop(solo) },
    {
      name: "local `node.dispatch` of a pre-built message",
      iterations: 100_000,
      async loop(n) {
        let last: unknown;
        for (let i = 0; i < n; i++) last = await solo.dispatch(prebuilt);
        return last;
      },
    },
    {
      // The floor under any JSON transport: both frames stringified, sent through a microtask, parsed.
      name: "raw: request + reply frames as JSON through microtasks",
      iterations: 30_000,
      async loop(n) {
        const hop = (text: string) =>
          new Promise<unknown>((resolve) => queueMicrotask(() => resolve(JSON.parse(text))));
        let last: unknown;
        for (let i = 0; i < n; i++) {
          const request = newGreet();
          await hop(
            JSON.stringify({ v: 1, kind: "request", from: "a", attemptId: "x-1", op: "invoke", envelope: request }),
          );
          const reply = request.ok("Hello, Ada!");
          await hop(JSON.stringify({ v: 1, kind: "reply", from: "b", attemptId: "x-1", envelope: reply }));
          last = reply;
        }
        return last;
      },
    },
    { name: "remote `a.dispatch(…)` served by b over the hub", iterations: 8_000, loop: dispatchLoop(a) },
  ];

  for (const { name, loop } of cases) {
    const reply = await loop(1);
    const response = reply instanceof Message ? reply.response : undefined;
    if (response?.status !== "ok" || response.payload !== "Hello, Ada!") {
      throw new Error(`${name}: unexpected reply ${JSON.stringify(response)}`);
    }
  }

  const started = performance.now();
  const results = await measureAll(cases);
  await Promise.all([solo.close(), a.close(), b.close()]);

  console.log("# x3m-system dispatch benchmark\n");
  console.log(`Node ${process.version} (${process.platform}/${process.arch})`);
  console.log("Aim: local dispatch within 5× of the direct handler call.\n");
  console.log(table(results));
  const perRound = cases.map((c) => c.iterations.toLocaleString("en-US")).join(" / ");
  console.log(`\nMedian of ${ROUNDS} interleaved rounds after one warm-up round; calls per round: ${perRound}.`);
  const ratio = (results[0]?.opsPerSec ?? Number.NaN) / (results[2]?.opsPerSec ?? Number.NaN);
  console.log(`Local dispatch is ${ratio.toFixed(1)}× the direct call: ${ratio <= 5 ? "within" : "OVER"} the 5× aim.`);
  const overRaw = (results[4]?.opsPerSec ?? Number.NaN) / (results[5]?.opsPerSec ?? Number.NaN);
  console.log(
    `Remote dispatch over the hub is ${overRaw.toFixed(1)}× the raw JSON round trip (validation, routing, telemetry hooks).`,
  );
  console.log(`Measured in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}
